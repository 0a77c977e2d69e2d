#include "attend/data/tasks.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "attend/core/error.h"
#include "attend/core/rng.h"

namespace attend::data {
namespace {

constexpr std::array<std::string_view, 6> kTaskNames = {"dates", "reverse", "copy", "sort", "addition", "number-words"};
constexpr std::string_view kSymbols = "0123456789abcdefghijklmnopqrstuvwxyz";

constexpr std::array<std::string_view, 12> kMonths = {"january", "february", "march",     "april",   "may",      "june",
                                                      "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kWeekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                                       "friday", "saturday", "sunday"};
constexpr std::array<std::string_view, kNumDateFamilies> kFamilyNames = {
    "iso",         "us_numeric",   "day_first_numeric", "month_name_first", "day_first_name",
    "spelled_out", "with_weekday", "upper_case",        "mixed_case"};
// The formats of each of the seven base families, in DateFormat order.
struct FormatRange {
  DateFormat first, last;
};
constexpr std::array<FormatRange, 7> kFamilyFormats = {{
    {DateFormat::iso_dash, DateFormat::iso_compact},
    {DateFormat::us_slash_yy, DateFormat::us_dash},
    {DateFormat::dotted_padded, DateFormat::day_dash},
    {DateFormat::month_ordinal_year, DateFormat::year_month_day},
    {DateFormat::day_month_year, DateFormat::day_mon_dash_year},
    {DateFormat::month_spelled_year, DateFormat::spelled_month_year},
    {DateFormat::weekday_day_month_year, DateFormat::weekday_month_spelled},
}};
// upper_case and mixed_case re-case a format of these families (the ones with words in them).
constexpr std::array<DateFamily, 4> kNameFamilies = {DateFamily::month_name_first, DateFamily::day_first_name,
                                                     DateFamily::spelled_out, DateFamily::with_weekday};

// Counters reserved per pair: pair i draws from counters [i * kStride, (i + 1) * kStride), so it
// depends only on (seed, i).
constexpr uint64_t kStride = uint64_t{1} << 20;

class PairRng {
 public:
  PairRng(uint64_t seed, Task task, int64_t i) : rng_(seed ^ (0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(task) + 1))) {
    rng_.set_state(rng_.seed(), static_cast<uint64_t>(i) * kStride);
  }
  // Uniform integer in [lo, hi].
  int64_t uniform_int(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(rng_.next_u64() % span);
  }
  double uniform() { return rng_.uniform(); }

 private:
  Rng rng_;
};

std::string capitalize(std::string_view s) {
  std::string out(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ordinal(int d) {
  const int m100 = d % 100, m10 = d % 10;
  const char* suffix = (m100 >= 11 && m100 <= 13) ? "th" : m10 == 1 ? "st" : m10 == 2 ? "nd" : m10 == 3 ? "rd" : "th";
  return std::to_string(d) + suffix;
}

std::string two_digits(int v) {
  std::string s = std::to_string(v);
  if (v < 10) s.insert(s.begin(), '0');
  return s;
}

std::string words_below_1000(int n) {
  static constexpr std::array<std::string_view, 20> ones = {
      "zero",    "one",     "two",       "three",    "four",     "five",    "six",
      "seven",   "eight",   "nine",      "ten",      "eleven",   "twelve",  "thirteen",
      "fourteen", "fifteen", "sixteen",  "seventeen", "eighteen", "nineteen"};
  static constexpr std::array<std::string_view, 10> tens = {"",      "",      "twenty",  "thirty", "forty",
                                                            "fifty", "sixty", "seventy", "eighty", "ninety"};
  std::string out;
  if (n >= 100) {
    out.assign(ones[static_cast<size_t>(n / 100)]);
    out.append(" hundred");
    n %= 100;
    if (n == 0) return out;
    out += ' ';
  }
  if (n < 20) return out.append(ones[static_cast<size_t>(n)]);
  out.append(tens[static_cast<size_t>(n / 10)]);
  if (n % 10 != 0) out.append("-").append(ones[static_cast<size_t>(n % 10)]);
  return out;
}

std::string join_symbols(const std::vector<char>& syms) {
  std::string s;
  for (size_t k = 0; k < syms.size(); ++k) {
    if (k) s.push_back(' ');
    s.push_back(syms[k]);
  }
  return s;
}

// Draws a sequence of symbols into `syms` and returns it space-separated.
std::string symbols_sequence(PairRng& r, const TaskOptions& o, std::vector<char>& syms) {
  const int64_t len = r.uniform_int(o.min_length, o.max_length);
  syms.resize(static_cast<size_t>(len));
  for (auto& c : syms) c = kSymbols[static_cast<size_t>(r.uniform_int(0, o.vocab_size - 1))];
  return join_symbols(syms);
}

// A number with exactly `digits` digits (0..9 for one digit).
int64_t random_with_digits(PairRng& r, int64_t digits) {
  if (digits == 1) return r.uniform_int(0, 9);
  int64_t lo = 1;
  for (int64_t k = 1; k < digits; ++k) lo *= 10;
  return r.uniform_int(lo, lo * 10 - 1);
}

Date random_date(PairRng& r) {
  Date d;
  if (r.uniform() < 0.02) {  // a leap day: leap years in 1950..2049 are 1952, 1956, ..., 2048
    d.year = static_cast<int>(1952 + 4 * r.uniform_int(0, 24));
    d.month = 2;
    d.day = 29;
    return d;
  }
  d.year = static_cast<int>(r.uniform_int(1950, 2049));
  d.month = static_cast<int>(r.uniform_int(1, 12));
  d.day = static_cast<int>(r.uniform_int(1, days_in_month(d.year, d.month)));
  return d;
}

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// mixed_case: each run of letters lower, Capitalized or UPPER, drawn one by one, until the text
// has both cases (else it would be one of the other families' spellings); an ordinal suffix
// ("3rd") is lower or upper only ("3Rd" is nobody's spelling).
std::string mixed_case(const std::string& text, PairRng& r) {
  const auto both_cases = [](const std::string& s) {
    const auto lower = [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; };
    const auto upper = [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; };
    return std::any_of(s.begin(), s.end(), lower) && std::any_of(s.begin(), s.end(), upper);
  };
  for (int attempt = 0;; ++attempt) {
    std::string s = text;
    for (size_t k = 0; k < s.size();) {
      if (!is_alpha(s[k])) {
        ++k;
        continue;
      }
      size_t end = k;
      while (end < s.size() && is_alpha(s[end])) ++end;
      const bool suffix = k > 0 && std::isdigit(static_cast<unsigned char>(s[k - 1]));
      // 0 lower, 1 UPPER, 2 Capitalized; after 8 draws without both cases, Capitalized words.
      const int64_t style = attempt >= 8 ? (suffix ? 0 : 2) : r.uniform_int(0, suffix ? 1 : 2);
      for (size_t j = k; j < end; ++j) {
        const auto c = static_cast<unsigned char>(s[j]);
        s[j] = static_cast<char>(style == 1 || (style == 2 && j == k) ? std::toupper(c) : std::tolower(c));
      }
      k = end;
    }
    if (attempt >= 8 || both_cases(s)) return s;
  }
}

DateExample random_date_example(PairRng& r, std::optional<DateFamily> only) {
  DateExample e;
  // Always drawn, so that a forced family leaves the rest of the pair's draws (its date) as is.
  const auto drawn = static_cast<DateFamily>(r.uniform_int(0, kNumDateFamilies - 1));
  e.family = only.value_or(drawn);
  e.date = random_date(r);
  DateFamily base = e.family;
  if (base == DateFamily::upper_case || base == DateFamily::mixed_case)
    base = kNameFamilies[static_cast<size_t>(r.uniform_int(0, static_cast<int64_t>(kNameFamilies.size()) - 1))];
  const FormatRange range = kFamilyFormats[static_cast<size_t>(base)];
  e.format = static_cast<DateFormat>(r.uniform_int(static_cast<int64_t>(range.first), static_cast<int64_t>(range.last)));
  if (date_format_needs_day_over_12(e.format) && e.date.day <= 12)
    e.date.day = static_cast<int>(r.uniform_int(13, days_in_month(e.date.year, e.date.month)));
  e.source = format_date(e.date, e.format);
  if (e.family == DateFamily::upper_case) e.source = upper(e.source);
  if (e.family == DateFamily::mixed_case) e.source = mixed_case(e.source, r);
  e.target = iso_date(e.date);
  return e;
}

void check_task_options(Task task, const TaskOptions& o) {
  constexpr const char* op = "generate_task";
  ATTEND_CHECK(o.count >= 0, op, "count must be >= 0, got ", o.count);
  ATTEND_CHECK(o.min_length >= 1 && o.min_length <= o.max_length, op, "need 1 <= min_length <= max_length, got ",
               o.min_length, " and ", o.max_length);
  ATTEND_CHECK(o.vocab_size >= 1 && o.vocab_size <= static_cast<int64_t>(kSymbols.size()), op,
               "vocab_size must be in 1..", kSymbols.size(), ", got ", o.vocab_size);
  if (task == Task::addition)
    ATTEND_CHECK(o.max_length <= 17, op, "addition operands have at most 17 digits, got max_length ", o.max_length);
  ATTEND_CHECK(task == Task::dates || !o.date_family, op, "a date family (",
               o.date_family ? date_family_name(*o.date_family) : "", ") is for the dates task, not ",
               kTaskNames[static_cast<size_t>(task)]);
}

}  // namespace

std::string_view date_family_name(DateFamily family) { return kFamilyNames[static_cast<size_t>(family)]; }

DateFamily parse_date_family(std::string_view name) {
  for (size_t i = 0; i < kFamilyNames.size(); ++i)
    if (kFamilyNames[i] == name) return static_cast<DateFamily>(i);
  std::string known;
  for (auto n : kFamilyNames) known += (known.empty() ? "" : ", ") + std::string(n);
  throw Error("date family", detail::concat("unknown date family '", name, "' (known: ", known, ")"));
}

std::vector<std::string_view> date_family_names() { return {kFamilyNames.begin(), kFamilyNames.end()}; }

Task parse_task(std::string_view name) {
  for (size_t i = 0; i < kTaskNames.size(); ++i)
    if (kTaskNames[i] == name) return static_cast<Task>(i);
  std::string known;
  for (auto n : kTaskNames) known += (known.empty() ? "" : ", ") + std::string(n);
  throw Error("task", detail::concat("unknown task '", name, "' (known: ", known, ")"));
}

std::string_view task_name(Task task) { return kTaskNames[static_cast<size_t>(task)]; }

std::vector<std::string_view> task_names() { return {kTaskNames.begin(), kTaskNames.end()}; }

std::string number_to_words(int64_t n) {
  ATTEND_CHECK(n >= 0 && n <= 999'999'999'999, "number_to_words", n, " is outside 0 .. 999999999999");
  if (n == 0) return "zero";
  static constexpr std::array<std::pair<int64_t, std::string_view>, 3> scales = {
      {{1'000'000'000, "billion"}, {1'000'000, "million"}, {1'000, "thousand"}}};
  std::string out;
  for (const auto& [value, word] : scales) {
    if (n >= value) {
      if (!out.empty()) out += ' ';
      out += words_below_1000(static_cast<int>(n / value)) + " " + std::string(word);
      n %= value;
    }
  }
  if (n > 0) {
    if (!out.empty()) out += ' ';
    out += words_below_1000(static_cast<int>(n));
  }
  return out;
}

bool is_leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  ATTEND_CHECK(month >= 1 && month <= 12, "days_in_month", "month ", month, " outside 1..12");
  static constexpr std::array<int, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[static_cast<size_t>(month - 1)];
}

int weekday(const Date& d) {
  // Days since 1970-01-01 (a Thursday) by Howard Hinnant's days_from_civil.
  const int y = d.year - (d.month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int mp = (d.month + 9) % 12;
  const int doy = (153 * mp + 2) / 5 + d.day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t{era} * 146097 + doe - 719468;
  return static_cast<int>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 -> 3 (Thursday)
}

std::string iso_date(const Date& d) {
  std::string y = std::to_string(d.year);
  y.insert(0, y.size() < 4 ? 4 - y.size() : 0, '0');
  return y + "-" + two_digits(d.month) + "-" + two_digits(d.day);
}

Date parse_iso_date(std::string_view s) {
  constexpr const char* op = "parse_iso_date";
  const auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t k = pos; k < pos + len; ++k) {
      ATTEND_CHECK(std::isdigit(static_cast<unsigned char>(s[k])), op, "'", s, "' is not YYYY-MM-DD");
      v = v * 10 + (s[k] - '0');
    }
    return v;
  };
  ATTEND_CHECK(s.size() == 10 && s[4] == '-' && s[7] == '-', op, "'", s, "' is not YYYY-MM-DD");
  Date d{num(0, 4), num(5, 2), num(8, 2)};
  ATTEND_CHECK(d.month >= 1 && d.month <= 12, op, "'", s, "': month ", d.month, " outside 1..12");
  ATTEND_CHECK(d.day >= 1 && d.day <= days_in_month(d.year, d.month), op, "'", s, "': day ", d.day,
               " does not exist in ", d.year, "-", two_digits(d.month));
  return d;
}

DateFamily date_format_family(DateFormat format) {
  for (size_t f = 0; f < kFamilyFormats.size(); ++f)
    if (format >= kFamilyFormats[f].first && format <= kFamilyFormats[f].last) return static_cast<DateFamily>(f);
  throw Error("date_format_family", "unknown format");
}

bool date_format_needs_day_over_12(DateFormat format) {
  switch (format) {
    case DateFormat::us_dash:
    case DateFormat::day_slash:
    case DateFormat::day_slash_yy:
    case DateFormat::day_dash: return true;
    default: return false;
  }
}

std::string ordinal_words(int day) {
  ATTEND_CHECK(day >= 1 && day <= 31, "ordinal_words", "day ", day, " outside 1..31");
  static constexpr std::array<std::string_view, 20> below_20 = {
      "",           "first",      "second",     "third",       "fourth",     "fifth",     "sixth",
      "seventh",    "eighth",     "ninth",      "tenth",       "eleventh",   "twelfth",   "thirteenth",
      "fourteenth", "fifteenth",  "sixteenth",  "seventeenth", "eighteenth", "nineteenth"};
  if (day < 20) return std::string(below_20[static_cast<size_t>(day)]);
  const std::string tens = day < 30 ? "twent" : "thirt";
  if (day % 10 == 0) return tens + "ieth";
  return tens + "y-" + std::string(below_20[static_cast<size_t>(day % 10)]);
}

std::string format_date(const Date& d, DateFormat format) {
  ATTEND_CHECK(d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= days_in_month(d.year, d.month), "format_date",
               iso_date(d), " is not a date");
  ATTEND_CHECK(!date_format_needs_day_over_12(format) || d.day > 12, "format_date", "format ",
               static_cast<int>(format), " is only for days over 12 (day ", d.day,
               " would make day and month ambiguous)");
  const std::string month(kMonths[static_cast<size_t>(d.month - 1)]), Month = capitalize(month);
  const std::string mon = month.substr(0, 3), Mon = capitalize(mon);
  // Abbreviations with a period: "Mar.", "Sept.", and "May" (nothing to abbreviate).
  const std::string Mon_dot = d.month == 5 ? "May" : d.month == 9 ? "Sept." : Mon + ".";
  const std::string wday(kWeekdays[static_cast<size_t>(weekday(d))]), Wday = capitalize(wday);
  const std::string wkd = wday.substr(0, 3), Wkd = capitalize(wkd);
  const std::string day = std::to_string(d.day), dd = two_digits(d.day), nth = ordinal(d.day);
  const std::string spelled = ordinal_words(d.day);
  const std::string m = std::to_string(d.month), mm = two_digits(d.month);
  const std::string year = std::to_string(d.year), yy = two_digits(d.year % 100);
  switch (format) {
    case DateFormat::iso_dash: return year + "-" + mm + "-" + dd;
    case DateFormat::iso_slash: return year + "/" + mm + "/" + dd;
    case DateFormat::iso_dotted: return year + "." + mm + "." + dd;
    case DateFormat::iso_compact: return year + mm + dd;
    case DateFormat::us_slash_yy: return m + "/" + day + "/" + yy;
    case DateFormat::us_slash_padded: return mm + "/" + dd + "/" + year;
    case DateFormat::us_slash: return m + "/" + day + "/" + year;
    case DateFormat::us_dash: return mm + "-" + dd + "-" + year;
    case DateFormat::dotted_padded: return dd + "." + mm + "." + year;
    case DateFormat::dotted: return day + "." + m + "." + year;
    case DateFormat::dotted_yy: return day + "." + m + "." + yy;
    case DateFormat::day_slash: return dd + "/" + mm + "/" + year;
    case DateFormat::day_slash_yy: return day + "/" + m + "/" + yy;
    case DateFormat::day_dash: return dd + "-" + mm + "-" + year;
    case DateFormat::month_ordinal_year: return Month + " " + nth + ", " + year;
    case DateFormat::month_day_comma_year: return Month + " " + day + ", " + year;
    case DateFormat::month_day_year: return month + " " + day + " " + year;
    case DateFormat::mon_day_yy: return mon + " " + day + " " + yy;
    case DateFormat::mon_day_year: return mon + " " + day + " " + year;
    case DateFormat::mon_dot_day_year: return Mon_dot + " " + day + ", " + year;
    case DateFormat::year_month_day: return year + " " + month + " " + day;
    case DateFormat::day_month_year: return day + " " + Month + " " + year;
    case DateFormat::day_mon_year: return day + " " + mon + " " + year;
    case DateFormat::day_mon_dot_year: return day + " " + Mon_dot + " " + year;
    case DateFormat::ordinal_month_year: return nth + " " + Month + " " + year;
    case DateFormat::the_ordinal_of_month: return "the " + nth + " of " + month + " " + year;
    case DateFormat::ordinal_of_month_comma: return nth + " of " + Month + ", " + year;
    case DateFormat::day_mon_dash_year: return dd + "-" + Mon + "-" + year;
    case DateFormat::month_spelled_year: return month + " " + spelled + " " + year;
    case DateFormat::month_spelled_comma_year: return Month + " " + spelled + ", " + year;
    case DateFormat::the_spelled_of_month: return "the " + spelled + " of " + month + " " + year;
    case DateFormat::spelled_of_month_comma: return spelled + " of " + Month + ", " + year;
    case DateFormat::month_the_spelled: return Month + " the " + spelled + ", " + year;
    case DateFormat::spelled_month_year: return spelled + " " + month + " " + year;
    case DateFormat::weekday_day_month_year: return wday + " " + day + " " + month + " " + year;
    case DateFormat::weekday_month_day_year: return Wday + ", " + Month + " " + day + ", " + year;
    case DateFormat::wkd_mon_day_year: return wkd + " " + mon + " " + day + " " + year;
    case DateFormat::wkd_dot_mon_dot_day_year: return Wkd + "., " + Mon_dot + " " + day + ", " + year;
    case DateFormat::wkd_day_mon_year: return Wkd + ", " + day + " " + Mon + " " + year;
    case DateFormat::weekday_the_ordinal_of: return Wday + ", the " + nth + " of " + Month + " " + year;
    case DateFormat::weekday_month_spelled: return wday + ", " + month + " " + spelled + ", " + year;
  }
  throw Error("format_date", "unknown format");
}

std::vector<DateExample> generate_dates(const TaskOptions& o) {
  check_task_options(Task::dates, o);
  std::vector<DateExample> out;
  out.reserve(static_cast<size_t>(o.count));
  for (int64_t i = 0; i < o.count; ++i) {
    PairRng r(o.seed, Task::dates, i);
    out.push_back(random_date_example(r, o.date_family));
  }
  return out;
}

std::vector<Pair> generate_task(Task task, const TaskOptions& o) {
  check_task_options(task, o);
  std::vector<Pair> pairs;
  pairs.reserve(static_cast<size_t>(o.count));
  std::vector<char> syms;
  for (int64_t i = 0; i < o.count; ++i) {
    PairRng r(o.seed, task, i);
    Pair p;
    switch (task) {
      case Task::dates: {
        DateExample e = random_date_example(r, o.date_family);
        p = {std::move(e.source), std::move(e.target)};
        break;
      }
      case Task::reverse:
      case Task::copy:
      case Task::sort: {
        p.source = symbols_sequence(r, o, syms);
        if (task == Task::reverse) std::reverse(syms.begin(), syms.end());
        // Symbol order is the order in kSymbols (digits before letters), i.e. ASCII order.
        if (task == Task::sort) std::sort(syms.begin(), syms.end());
        p.target = join_symbols(syms);
        break;
      }
      case Task::addition: {
        const int64_t a = random_with_digits(r, r.uniform_int(o.min_length, o.max_length));
        const int64_t b = random_with_digits(r, r.uniform_int(o.min_length, o.max_length));
        p = {std::to_string(a) + "+" + std::to_string(b), std::to_string(a + b)};
        break;
      }
      case Task::number_words: {
        const int64_t hi = std::min<int64_t>(o.max_length, 12), lo = std::min<int64_t>(o.min_length, hi);
        const int64_t n = random_with_digits(r, r.uniform_int(lo, hi));
        p = {std::to_string(n), number_to_words(n)};
        break;
      }
    }
    pairs.push_back(std::move(p));
  }
  return pairs;
}

}  // namespace attend::data
