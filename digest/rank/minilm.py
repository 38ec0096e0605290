"""all-MiniLM-L6-v2 in plain numpy: the same weights and the same arithmetic as the
sentence-transformers pipeline (BERT encoder, mean pooling over the real tokens, unit
length), without importing torch, transformers or sentence-transformers.

Why: importing sentence-transformers alone takes 11 s on the project's 2-core machine and
torch 3 s; numpy, tokenizers and safetensors together take a quarter of a second. A
preview embeds one profile text, so that import was nearly all of its time. The vectors
agree with the sentence-transformers ones to about 1e-6 in cosine (tests/semantic).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float32]

HEADS = 12
LAYER_NORM_EPS = 1e-12
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


def _erf(x: Array) -> Array:
    """erf by Abramowitz & Stegun 7.1.26 (error under 1.5e-7, float32's own resolution):
    numpy has no erf, and BERT's GELU is the exact, erf-based one."""
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    result: Array = sign * (1.0 - poly * np.exp(-a * a))
    return result


def _gelu(x: Array) -> Array:
    result: Array = 0.5 * x * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))
    return result


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    result: Array = centred / (variance + LAYER_NORM_EPS) ** 0.5 * weight + bias
    return result


@dataclass(frozen=True, slots=True)
class _Layer:
    query: tuple[Array, Array]  # (weight transposed, bias)
    key: tuple[Array, Array]
    value: tuple[Array, Array]
    attention_out: tuple[Array, Array]
    attention_norm: tuple[Array, Array]
    intermediate: tuple[Array, Array]
    output: tuple[Array, Array]
    output_norm: tuple[Array, Array]


def _dense(x: Array, layer: tuple[Array, Array]) -> Array:
    # as one 2-D product: a 3-D operand takes numpy's slower path
    flat = x.reshape(-1, x.shape[-1]) @ layer[0]
    flat += layer[1]
    result: Array = flat.reshape(*x.shape[:-1], flat.shape[-1])
    return result


class MiniLM:
    """The encoder, loaded from a model folder (model.safetensors and tokenizer.json)."""

    def __init__(self, folder: Path, *, max_tokens: int) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights = load_file(str(folder / WEIGHTS_FILE))
        tokenizer: Any = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer = tokenizer

        def get(name: str) -> Array:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        def dense(prefix: str) -> tuple[Array, Array]:
            return np.ascontiguousarray(get(f"{prefix}.weight").T), get(f"{prefix}.bias")

        def norm(prefix: str) -> tuple[Array, Array]:
            return get(f"{prefix}.weight"), get(f"{prefix}.bias")

        self._words = get("embeddings.word_embeddings.weight")
        self._positions = get("embeddings.position_embeddings.weight")
        self._token_type = get("embeddings.token_type_embeddings.weight")[0]
        self._norm = norm("embeddings.LayerNorm")
        layers = []
        number = 0
        while f"encoder.layer.{number}.output.dense.weight" in weights:
            at = f"encoder.layer.{number}"
            layers.append(
                _Layer(
                    query=dense(f"{at}.attention.self.query"),
                    key=dense(f"{at}.attention.self.key"),
                    value=dense(f"{at}.attention.self.value"),
                    attention_out=dense(f"{at}.attention.output.dense"),
                    attention_norm=norm(f"{at}.attention.output.LayerNorm"),
                    intermediate=dense(f"{at}.intermediate.dense"),
                    output=dense(f"{at}.output.dense"),
                    output_norm=norm(f"{at}.output.LayerNorm"),
                )
            )
            number += 1
        self._layers = tuple(layers)
        self.dimensions = int(self._words.shape[1])

    def embed(self, texts: Sequence[str], *, batch_size: int) -> Array:
        """Unit-length vectors, one row per text, in the order given. Texts are batched by
        length so that little padding is computed."""
        from threadpoolctl import threadpool_limits

        # A few texts make small products: BLAS threads cost more to wake than they save
        # (40 ms instead of 0.1 ms per product on a busy 2-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._embed(texts, batch_size)

    def _embed(self, texts: Sequence[str], batch_size: int) -> Array:
        import numpy as np

        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        order = sorted(range(len(texts)), key=lambda n: -len(encodings[n].ids))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            longest = max(len(encodings[n].ids) for n in chosen)
            ids = np.zeros((len(chosen), longest), dtype=np.int64)
            mask = np.zeros((len(chosen), longest), dtype=np.float32)
            for row, n in enumerate(chosen):
                tokens = encodings[n].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1.0
            out[chosen] = self._pooled(ids, mask)
        return out

    def _pooled(self, ids: NDArray[np.int64], mask: Array) -> Array:
        import numpy as np

        batch, length = ids.shape
        x = self._words[ids] + self._positions[:length] + self._token_type
        x = _layer_norm(x, *self._norm)
        head = self.dimensions // HEADS
        # padding must receive no attention: a large negative score before the softmax
        blocked = ((1.0 - mask) * np.float32(-1e30))[:, None, :]
        scale = np.float32(1.0 / math.sqrt(head))

        def heads(y: Array) -> Array:
            split = y.reshape(batch, length, HEADS, head).transpose(0, 2, 1, 3)
            return np.ascontiguousarray(split)

        scores = np.empty((HEADS, length, length), dtype=np.float32)
        context = np.empty((batch, HEADS, length, head), dtype=np.float32)
        for layer in self._layers:
            q = heads(_dense(x, layer.query))
            k = heads(_dense(x, layer.key))
            v = heads(_dense(x, layer.value))
            for row in range(batch):
                # one 2-D product per head: numpy's stacked matmul does not reach BLAS
                for h in range(HEADS):
                    np.matmul(q[row, h], k[row, h].T, out=scores[h])
                scores *= scale
                scores += blocked[row]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                for h in range(HEADS):
                    np.matmul(scores[h], v[row, h], out=context[row, h])
            merged = context.transpose(0, 2, 1, 3).reshape(batch, length, self.dimensions)
            x = _layer_norm(x + _dense(merged, layer.attention_out), *layer.attention_norm)
            inner = _gelu(_dense(x, layer.intermediate))
            x = _layer_norm(x + _dense(inner, layer.output), *layer.output_norm)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
