# Sourced (bash) by the Multi30k benchmarks (bench/multi30k.sh, bench/multi30k_transformer.sh):
# sets `root` (the repository), `data` (MULTI30K, default ../shared/data/multi30k/raw beside the
# repository, every file of the corpus checked) and `attend` (build/attend, built in Release after
# scripts/deps.sh installed what is missing).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${MULTI30K:-$root/../shared/data/multi30k/raw}"
for f in train.de train.en val.de val.en test_2016_flickr.de test_2016_flickr.en; do
  [ -r "$data/$f" ] || { echo "multi30k: $data/$f is missing (set MULTI30K to the raw data directory)" >&2; exit 2; }
done
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
attend="$root/build/attend"
