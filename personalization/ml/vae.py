"""Mult-VAE (Liang, Krishnan, Hoffman & Jebara, 2018): a variational autoencoder over purchase rows.

PyTorch is imported lazily, inside the methods that need it, so the rest of the package works
without it. Runs on CPU or CUDA (``device``); the weights are saved as the network's ``state_dict``
tensors, converted to numpy arrays, in the model's ``.npz``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, torch_device, user_rows
from .ease import user_item_weights


def _build_network(n_items: int, hidden: int, latent: int, dropout: float) -> Any:
    import torch
    from torch import nn

    class _MultVAENet(nn.Module):
        """Encoder on sparse, L2-normalised purchase rows; decoder to logits over every item."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(n_items, hidden)
            self.to_stats = nn.Linear(hidden, 2 * latent)
            self.decoder_hidden = nn.Linear(latent, hidden)
            self.decoder_out = nn.Linear(hidden, n_items)
            self.dropout = dropout
            self.latent = latent

        def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if self.training and self.dropout > 0:
                x = x.coalesce()
                keep = torch.rand_like(x.values()) >= self.dropout
                x = torch.sparse_coo_tensor(x.indices()[:, keep], x.values()[keep] / (1 - self.dropout), x.shape,
                                            check_invariants=False)
            # x arrives L2-normalised (before dropout, as in the paper's implementation).
            h = torch.tanh(torch.sparse.mm(x, self.encoder.weight.T) + self.encoder.bias)
            stats = self.to_stats(h)
            return stats[:, : self.latent], stats[:, self.latent:]

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return self.decoder_out(torch.tanh(self.decoder_hidden(z)))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            mu, logvar = self.encode(x)
            if self.training:
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            else:
                z = mu
            return self.decode(z), mu, logvar

    return _MultVAENet()


def _sparse_batch(rows: sp.csr_matrix, device: Any) -> Any:
    """A torch sparse COO tensor of L2-normalised rows."""
    import torch

    coo = sp.coo_matrix(rows, dtype=np.float32)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()).astype(np.float32)
    norms[norms == 0] = 1.0
    values = coo.data / norms[coo.row]
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(indices, torch.from_numpy(values), coo.shape, device=device,
                                   check_invariants=False).coalesce()


def _fold_in_split(x: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator,
                   holdout: float = 0.2) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """For validation users: the rows with a random ``holdout`` share of their items hidden, and those items."""
    rows = x[users].tolil()
    targets = []
    for r in range(len(users)):
        items = np.array(rows.rows[r], dtype=np.int64)
        k = max(1, int(round(holdout * items.size)))
        hidden = rng.choice(items, size=k, replace=False)
        keep = ~np.isin(items, hidden)
        rows.rows[r] = list(items[keep])
        rows.data[r] = list(np.asarray(rows.data[r])[keep])
        targets.append(np.sort(hidden))
    return rows.tocsr(), targets


class MultVAE(Recommender):
    """Mult-VAE with one hidden layer each side, KL annealing to ``beta_max``, and early stopping.

    Fitting holds out ``validation_fraction`` of the users (with at least 5 items): for each, a fifth of
    their items is hidden, the rest folded in, and NDCG@20 on the hidden items picks the best epoch
    (stopping after ``patience`` epochs without improvement). ``device`` is ``"cpu"``, ``"cuda"`` or
    ``"auto"``; ``num_threads`` caps CPU threads while fitting and scoring.
    """

    _state_attrs = ("user_items_", "n_users_", "n_items_", "best_epoch_", "best_val_ndcg_", "epochs_run_")

    def __init__(self, hidden: int = 200, latent: int = 64, dropout: float = 0.5, beta_max: float = 0.2,
                 anneal_steps: int = 150, epochs: int = 30, batch_size: int = 256, lr: float = 3e-3,
                 patience: int = 5, validation_fraction: float = 0.1, half_life_days: float | None = None,
                 device: str = "cpu", num_threads: int = 2, random_state: int | None = 0) -> None:
        self.hidden = hidden
        self.latent = latent
        self.dropout = dropout
        self.beta_max = beta_max
        self.anneal_steps = anneal_steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.half_life_days = half_life_days
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> MultVAE:
        import torch

        data = as_interactions(interactions)
        x = user_item_weights(data, self.half_life_days).astype(np.float32)
        rng = np.random.default_rng(self.random_state)
        counts = np.diff(x.indptr)
        active = np.flatnonzero(counts > 0)
        eligible = np.flatnonzero(counts >= 5)
        n_val = min(int(round(self.validation_fraction * active.size)), eligible.size)
        val_users = np.sort(rng.choice(eligible, size=n_val, replace=False)) if n_val else eligible[:0]
        train_users = np.setdiff1d(active, val_users)
        val_input, val_targets = _fold_in_split(x, val_users, rng) if n_val else (None, [])

        device = torch_device(self.device)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.num_threads))
        try:
            with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
                torch.manual_seed(0 if self.random_state is None else int(self.random_state))
                net = _build_network(data.n_items, self.hidden, self.latent, self.dropout).to(device)
                optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, foreach=True)
                best_state, best_ndcg, best_epoch, stale, step, epoch = None, -1.0, 0, 0, 0, 0
                for epoch in range(1, self.epochs + 1):
                    net.train()
                    order = rng.permutation(train_users)
                    for start in range(0, order.size, self.batch_size):
                        rows = x[order[start:start + self.batch_size]]
                        logits, mu, logvar = net(_sparse_batch(rows, device))
                        coo = rows.tocoo()
                        picked = torch.log_softmax(logits, dim=1)[
                            torch.from_numpy(coo.row.astype(np.int64)).to(device),
                            torch.from_numpy(coo.col.astype(np.int64)).to(device)]
                        nll = -(picked * torch.from_numpy(coo.data).to(device)).sum() / rows.shape[0]
                        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
                        beta = min(self.beta_max, step / max(1, self.anneal_steps))
                        loss = nll + beta * kl
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                        step += 1
                    if val_input is None:
                        best_state, best_epoch = None, epoch
                        continue
                    ndcg = self._validation_ndcg(net, val_input, val_targets, device)
                    if ndcg > best_ndcg:
                        best_ndcg, best_epoch, stale = ndcg, epoch, 0
                        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    else:
                        stale += 1
                        if stale >= self.patience:
                            break
                if best_state is not None:
                    net.load_state_dict(best_state)
        finally:
            torch.set_num_threads(previous_threads)
        net.eval()
        self.network_ = net
        self.user_items_ = x
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        self.best_epoch_ = best_epoch
        self.best_val_ndcg_ = float(best_ndcg) if val_input is not None else float("nan")
        self.epochs_run_ = epoch
        return self

    @staticmethod
    def _validation_ndcg(net: Any, inputs: sp.csr_matrix, targets: list[np.ndarray], device: Any) -> float:
        from .evaluation import ndcg_at_k

        scores = MultVAE._forward_scores(net, inputs, device)
        folded = inputs.tocoo()
        scores[folded.row, folded.col] = -np.inf
        ranked = np.argsort(-scores, axis=1, kind="stable")[:, :20]
        return ndcg_at_k(ranked, targets, 20)

    @staticmethod
    def _forward_scores(net: Any, rows: sp.csr_matrix, device: Any, batch: int = 1024) -> np.ndarray:
        import torch

        net.eval()
        out = np.empty(rows.shape, dtype=np.float64)
        with torch.no_grad():
            for start in range(0, rows.shape[0], batch):
                logits, _, _ = net(_sparse_batch(rows[start:start + batch], device))
                out[start:start + batch] = torch.log_softmax(logits, dim=1).cpu().numpy()
        return out

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        import torch

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.num_threads))
        try:
            device = next(self.network_.parameters()).device
            return self._forward_scores(self.network_, user_rows(self.user_items_, user_ids), device)
        finally:
            torch.set_num_threads(previous_threads)

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        from .base import cosine_rows

        weights = self.network_.decoder_out.weight.detach().cpu().numpy()
        return cosine_rows(weights, item_ids)

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        import torch

        net = _build_network(int(self.n_items_), self.hidden, self.latent, self.dropout)
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
        net.to(torch_device(self.device))
        net.eval()
        self.network_ = net
