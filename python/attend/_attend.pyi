"""Type stubs of attend's extension module (python/src/*.cc); attend/__init__.py re-exports it."""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
Array = npt.NDArray[Any]
Window = Union[int, Tuple[Optional[int], Optional[int]], None]
AttentionResult = Tuple[Array, Optional[Array], Optional[Array]]

class Error(ValueError):
    """attend's error: the message starts with "[op]" and names the shapes, file or setting at fault."""

def num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def _input_address(a: ArrayLike) -> int: ...

def scaled_dot_product_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, *,
                                 key_lengths: Optional[Sequence[int]] = None, attn_mask: Optional[ArrayLike] = None,
                                 is_causal: bool = False, window: Window = None, normalizer: str = "softmax",
                                 need_weights: bool = False, scale: float = 0.0) -> AttentionResult: ...
def attend(scores: ArrayLike, values: ArrayLike, *, key_lengths: Optional[Sequence[int]] = None,
           attn_mask: Optional[ArrayLike] = None, is_causal: bool = False, window: Window = None,
           normalizer: str = "softmax", need_weights: bool = False) -> AttentionResult: ...
def dot_scores(query: ArrayLike, keys: ArrayLike) -> Array: ...
def general_scores(query: ArrayLike, keys: ArrayLike, W_a: ArrayLike) -> Array: ...
def concat_scores(query: ArrayLike, keys: ArrayLike, W_a: ArrayLike, v_a: ArrayLike) -> Array: ...
def additive_scores(query: ArrayLike, keys: ArrayLike, W_q: ArrayLike, W_k: ArrayLike, b: ArrayLike,
                    v: ArrayLike) -> Array: ...
def location_scores(query: ArrayLike, W_a: ArrayLike, source_len: int) -> Array: ...
def local_m_attention(scores: ArrayLike, values: ArrayLike, *, D: int = 2, query_offset: int = 0,
                      key_lengths: Optional[Sequence[int]] = None, normalizer: str = "softmax",
                      need_weights: bool = False) -> AttentionResult: ...
def local_p_attention(scores: ArrayLike, values: ArrayLike, positions: ArrayLike, *, D: int = 2,
                      key_lengths: Optional[Sequence[int]] = None, normalizer: str = "softmax",
                      need_weights: bool = False) -> AttentionResult: ...
def local_p_positions(query: ArrayLike, W_p: ArrayLike, v_p: ArrayLike, source_lengths: Sequence[int]) -> Array: ...

class _MultiheadAttention:
    head_dim: int
    training: bool
    def __init__(self, embed_dim: int, num_heads: int, dropout: float, bias: bool, kdim: int, vdim: int,
                 num_kv_heads: int, normalizer: str, dtype: str, seed: int) -> None: ...
    def forward(self, query: ArrayLike, key: ArrayLike, value: ArrayLike, key_padding: Optional[ArrayLike],
                attn_mask: Optional[ArrayLike], attn_mask_additive: bool, need_weights: bool,
                average_attn_weights: bool, is_causal: bool) -> Tuple[Array, Optional[Array]]: ...
    def state_dict(self) -> Dict[str, Array]: ...
    def load_state_dict(self, state_dict: Dict[str, ArrayLike], strict: bool = True) -> None: ...
    def train(self, mode: bool = True) -> None: ...

class Model:
    task: str
    architecture: str
    config: Dict[str, Any]
    path: str
    def state_dict(self) -> Dict[str, Array]: ...
    def load_state_dict(self, state_dict: Dict[str, ArrayLike], strict: bool = True) -> None: ...
    def save(self, path: str) -> None: ...

class Hypothesis:
    text: str
    tokens: List[str]
    ids: List[int]
    score: float
    log_prob: float
    finished: bool
    attention: Optional[Array]

class Translation:
    source_tokens: List[str]
    hypotheses: List[Hypothesis]
    text: str

class Translator(Model):
    def translate(self, sentences: Sequence[str], *, beam: int = 5, nbest: int = 1, alpha: float = 0.6,
                  length_penalty: str = "gnmt", max_len_ratio: float = 2.0, max_len_offset: int = 10,
                  batch: int = 64, truncate: bool = False) -> List[Translation]: ...

class Generation:
    text: str
    ids: List[int]
    log_prob: float
    ended: bool
    context_full: bool

class LanguageModel(Model):
    def generate(self, prompts: Sequence[str], *, max_new: int = 200, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 1, beam: int = 1, batch: int = 16) -> List[Generation]: ...
    def perplexity(self, documents: Sequence[str], *, context: int = 256, batch: int = 16) -> Dict[str, float]: ...

class Classification:
    label: str
    index: int
    probabilities: Array
    tokens: List[str]
    weights: Optional[Array]

class Classifier(Model):
    labels: List[str]
    def classify(self, texts: Sequence[str], *, batch: int = 64) -> List[Classification]: ...

def load(path: str) -> Model: ...
def train(*, progress: Optional[Callable[[Dict[str, Any]], None]] = None, quiet: bool = False,
          **recipe: Any) -> Model: ...
def convert(path: str, out: str, *, to: str = "attend", num_heads: int = 0, norm_first: bool = True,
            activation: str = "relu", max_positions: int = 1024, spm: str = "", source_spm: str = "",
            target_spm: str = "") -> Optional[Model]: ...
def load_safetensors(path: str) -> Dict[str, Array]: ...
def save_safetensors(path: str, tensors: Dict[str, ArrayLike], metadata: Dict[str, str] = ...) -> None: ...
