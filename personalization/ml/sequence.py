"""A SASRec-style next-item model (Kang & McAuley, 2018) over each customer's purchase sequence.

Each customer's purchases in time order (baskets flattened, ties broken by item id, so the order is
deterministic) form a sequence; the last ``max_len`` items of it feed a small causal self-attention
network whose output at each position is trained to predict the next item. The vocabulary is bounded:
only the ``max_items`` most bought items get an embedding (the others are skipped in the sequences and
scored below every known item), so memory stays flat as the catalogue grows. The loss is a sampled
softmax (the true next item against ``negatives`` items drawn uniformly from the vocabulary, shared by a
batch), or the full softmax with ``negatives=0``.

PyTorch is imported lazily, inside the methods that need it. ``device``: ``"cpu"`` (default), ``"cuda"``
or ``"auto"`` (CUDA when available). Training stops after ``epochs`` epochs or once ``max_seconds`` have
passed (the running epoch finishes first); with the same data, ``random_state`` and threads, a CPU fit
that stops on ``epochs`` is deterministic. The weights are saved as the network's ``state_dict`` tensors,
converted to numpy arrays, in the model's ``.npz``.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, torch_device


def _build_network(n_vocab: int, dim: int, max_len: int, n_blocks: int, n_heads: int, dropout: float) -> Any:
    import torch
    from torch import nn

    class _SASRecNet(nn.Module):
        """Item + position embeddings, causal pre-norm transformer blocks; id 0 is padding."""

        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_vocab + 1, dim, padding_idx=0)
            # Unit-scale rows (the default N(0, 1) makes every item's own logit dominate at the start).
            nn.init.normal_(self.items.weight, std=dim ** -0.5)
            with torch.no_grad():
                self.items.weight[0].zero_()
            self.positions = nn.Embedding(max_len, dim)
            layer = nn.TransformerEncoderLayer(dim, n_heads, dim_feedforward=2 * dim, dropout=dropout,
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, n_blocks, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.dropout = nn.Dropout(dropout)
            self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1),
                                 persistent=False)
            self.register_buffer("eye", torch.eye(max_len, dtype=torch.bool), persistent=False)

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            """Hidden states ``(batch, max_len, dim)`` of left-padded sequences ``(batch, max_len)``."""
            length = seq.shape[1]
            pos = torch.arange(length, device=seq.device)
            x = self.items(seq) * (self.items.embedding_dim ** 0.5) + self.positions(pos)[None]
            x = self.dropout(x)
            # Causal, and never to a padding position; every position sees itself, so that no row of the
            # attention is empty (padded positions' outputs are never read).
            blocked = self.causal[None, :length, :length] | (seq == 0)[:, None, :]
            blocked = blocked & ~self.eye[None, :length, :length]
            blocked = blocked.repeat_interleave(n_heads, dim=0)
            return self.norm(self.blocks(x, mask=blocked))

    return _SASRecNet()


def purchase_sequences(data: Interactions, vocab_of_item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every user's in-vocabulary items in time order: ``(indptr, tokens)`` (CSR-like, tokens are 1-based
    vocabulary ids). Items of one basket (same timestamp) follow by item id."""
    tokens = vocab_of_item[data.item_ids]
    keep = tokens > 0
    users, tokens = data.user_ids[keep], tokens[keep]
    stamps = (data.timestamps[keep] if data.timestamps is not None else np.zeros(users.size, dtype=np.int64))
    order = np.lexsort((data.item_ids[keep], stamps, users))
    counts = np.bincount(users, minlength=data.n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, tokens[order].astype(np.int64)


def _last_items(indptr: np.ndarray, tokens: np.ndarray, users: np.ndarray, length: int) -> np.ndarray:
    """Left-padded matrix ``(len(users), length)`` of each user's last ``length`` tokens (0: padding)."""
    out = np.zeros((users.size, length), dtype=np.int64)
    for row, u in enumerate(users):
        seq = tokens[indptr[u]:indptr[u + 1]][-length:]
        if seq.size:
            out[row, length - seq.size:] = seq
    return out


def _training_rows(indptr: np.ndarray, tokens: np.ndarray, length: int) -> np.ndarray:
    """Every user's whole sequence cut, from its end, into left-padded rows of ``length + 1`` tokens that
    overlap by one (inputs are a row's first ``length``, targets its last ``length``)."""
    starts, stops = [], []
    for u in range(indptr.size - 1):
        lo, end = int(indptr[u]), int(indptr[u + 1])
        while end - lo >= 2:
            starts.append(max(lo, end - length - 1))
            stops.append(end)
            end -= length
    rows = np.zeros((len(starts), length + 1), dtype=np.int64)
    for r, (a, b) in enumerate(zip(starts, stops, strict=True)):
        rows[r, length + 1 - (b - a):] = tokens[a:b]
    return rows


class SequenceRecommender(Recommender):
    """SASRec-style next-item model; see the module docstring.

    ``max_len``: items of a sequence the network sees (the last ones); ``max_items``: vocabulary size (the
    most bought items); ``dim`` / ``n_blocks`` / ``n_heads``: network size; ``negatives``: sampled negatives
    per batch (0: full softmax); ``epochs`` and ``max_seconds`` bound the training; ``num_threads`` caps CPU
    threads while fitting and scoring.
    """

    _state_attrs = ("vocab_", "indptr_", "tokens_", "n_users_", "n_items_", "epochs_run_", "final_loss_")

    def __init__(self, max_len: int = 50, max_items: int = 20_000, dim: int = 64, n_blocks: int = 2,
                 n_heads: int = 2, dropout: float = 0.2, epochs: int = 20, max_seconds: float = 300.0,
                 batch_size: int = 128, lr: float = 1e-3, negatives: int = 256, device: str = "cpu",
                 num_threads: int = 2, random_state: int | None = 0) -> None:
        self.max_len = max_len
        self.max_items = max_items
        self.dim = dim
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.dropout = dropout
        self.epochs = epochs
        self.max_seconds = max_seconds
        self.batch_size = batch_size
        self.lr = lr
        self.negatives = negatives
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        for name in ("max_len", "max_items", "dim", "n_blocks", "n_heads", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.dim % self.n_heads:
            raise ValueError("dim must be a multiple of n_heads")
        if self.negatives < 0 or not 0.0 <= self.dropout < 1.0 or self.max_seconds <= 0:
            raise ValueError("negatives must be >= 0, dropout in [0, 1), max_seconds > 0")

    def fit(self, interactions: Interactions | sp.spmatrix) -> SequenceRecommender:
        import torch

        self._check_params()
        data = as_interactions(interactions)
        counts = np.bincount(data.item_ids, minlength=data.n_items)
        # The most bought items, ties by the lower id; never an item nobody bought.
        ranked = np.lexsort((np.arange(data.n_items), -counts))
        vocab = ranked[: int(self.max_items)]
        vocab = np.sort(vocab[counts[vocab] > 0])
        vocab_of_item = np.zeros(data.n_items, dtype=np.int64)
        vocab_of_item[vocab] = np.arange(1, vocab.size + 1)
        indptr, tokens = purchase_sequences(data, vocab_of_item)
        self.vocab_ = vocab.astype(np.int64)
        self.indptr_, self.tokens_ = indptr, tokens
        self.n_users_, self.n_items_ = data.n_users, data.n_items

        length = int(self.max_len)
        rows = _training_rows(indptr, tokens, length)
        trainable = np.arange(rows.shape[0])
        rng = np.random.default_rng(self.random_state)
        device = torch_device(self.device)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.num_threads)))
        epoch, loss_value = 0, float("nan")
        try:
            with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
                torch.manual_seed(0 if self.random_state is None else int(self.random_state))
                net = _build_network(vocab.size, int(self.dim), length, int(self.n_blocks), int(self.n_heads),
                                     float(self.dropout)).to(device)
                optimizer = torch.optim.Adam(net.parameters(), lr=float(self.lr))
                started = time.perf_counter()
                all_rows = torch.from_numpy(rows)
                for _ in range(int(self.epochs)):
                    epoch += 1
                    net.train()
                    total, n_batches = 0.0, 0
                    order = torch.from_numpy(rng.permutation(trainable.size))
                    for start in range(0, trainable.size, int(self.batch_size)):
                        batch = all_rows[order[start:start + int(self.batch_size)]].to(device)
                        inputs, targets = batch[:, :-1], batch[:, 1:]
                        hidden = net(inputs)
                        mask = (targets > 0) & (inputs > 0)
                        h, y = hidden[mask], targets[mask]
                        loss = self._loss(net, h, y, vocab.size, rng, device)
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                        total += float(loss.detach())
                        n_batches += 1
                    loss_value = total / max(n_batches, 1)
                    if time.perf_counter() - started >= float(self.max_seconds):
                        break
        finally:
            torch.set_num_threads(previous_threads)
        net.eval()
        self.network_ = net
        self.epochs_run_ = epoch
        self.final_loss_ = loss_value
        return self

    def _loss(self, net: Any, h: Any, y: Any, n_vocab: int, rng: np.random.Generator, device: Any) -> Any:
        import torch

        weights = net.items.weight  # row 0 is padding
        if self.negatives == 0 or self.negatives >= n_vocab:
            logits = h @ weights[1:].T
            return torch.nn.functional.cross_entropy(logits, y - 1)
        negatives = torch.from_numpy(rng.integers(1, n_vocab + 1, size=int(self.negatives))).to(device)
        positive = (h * weights[y]).sum(dim=1, keepdim=True)
        negative = h @ weights[negatives].T
        # A sampled negative that is the target itself is no negative.
        negative = negative.masked_fill(negatives[None, :] == y[:, None], float("-inf"))
        logits = torch.cat([positive, negative], dim=1)
        return torch.nn.functional.cross_entropy(logits, torch.zeros(y.shape[0], dtype=torch.long, device=device))

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        import torch

        scores = np.zeros((user_ids.size, self.n_items_))
        known = user_ids < self.n_users_
        rows = np.flatnonzero(known)
        rows = rows[np.diff(self.indptr_)[user_ids[rows]] > 0]
        if rows.size == 0 or self.vocab_.size == 0:
            return scores
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.num_threads)))
        try:
            net = self.network_
            device = next(net.parameters()).device
            seqs = _last_items(self.indptr_, self.tokens_, user_ids[rows], int(self.max_len))
            with torch.no_grad():
                hidden = net(torch.from_numpy(seqs).to(device))[:, -1]
                logits = torch.log_softmax(hidden @ net.items.weight[1:].T, dim=1).cpu().numpy()
        finally:
            torch.set_num_threads(previous_threads)
        # Items outside the vocabulary come after every item in it (still returnable).
        floor = logits.min(axis=1, keepdims=True) - 1.0
        block = np.repeat(floor, self.n_items_, axis=1)
        block[:, self.vocab_] = logits
        scores[rows] = block
        return scores

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        from .base import cosine_rows

        weights = np.zeros((self.n_items_, int(self.dim)), dtype=np.float64)
        weights[self.vocab_] = self.network_.items.weight[1:].detach().cpu().numpy()
        return cosine_rows(weights, item_ids)

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        import torch

        net = _build_network(int(self.vocab_.size), int(self.dim), int(self.max_len), int(self.n_blocks),
                             int(self.n_heads), float(self.dropout))
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
        net.to(torch_device(self.device))
        net.eval()
        self.network_ = net
