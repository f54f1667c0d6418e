#!/usr/bin/python3
"""Golden values for gtgm's projection heads (tests/models/test_heads_golden.cpp), from the GTGM
reference code's own head module.

Source: ydchen0806/GTGM pretrain/utils/utils_builder.py, lines 27-39 (ResNet_CXRBert.__init__):

        self.proj_v = nn.Sequential(
            nn.Linear(2048, 2048),
            nn.BatchNorm1d(2048),
            nn.ReLU(inplace=True),
            nn.Linear(2048, 512),
            nn.BatchNorm1d(512, affine=False))

        self.proj_t = nn.Sequential(
            nn.Linear(768, 2048), ... the same ...)

`reference_head` below is that Sequential as it is; only the widths are arguments, so the same
module runs at the paper's widths (2048 -> 2048 -> 512) and at a small size whose every output the
C++ test compares. Weights and inputs come from `fixed(rows, cols, salt)`, a formula the C++ test
repeats exactly (integers / 97, rounded once to float32). Each head runs one forward in training
mode (batch statistics; running statistics updated with momentum 0.1), then one in eval mode
(running statistics). Also printed: a batch of 2 in training mode, where every BatchNorm output is
+-1 up to eps (docs/fidelity.md).

Run: /usr/bin/python3 scripts/reference/heads_reference.py   (torch 1.13; prints C++ initialisers)
"""
import torch
import torch.nn as nn


def reference_head(in_dim, hidden=2048, out=512):
    # pretrain/utils/utils_builder.py:27-32 (proj_v; proj_t at 34-39 differs only in in_dim)
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, out),
        nn.BatchNorm1d(out, affine=False))


def fixed(rows, cols, salt):
    """((r * 31 + c * 17 + salt) mod 97 - 48) / 97 / sqrt(cols), as float32."""
    r = torch.arange(rows, dtype=torch.float64).reshape(-1, 1)
    c = torch.arange(cols, dtype=torch.float64).reshape(1, -1)
    v = (torch.remainder(r * 31 + c * 17 + salt, 97) - 48) / 97
    return (v / cols ** 0.5).float()


def load(head, in_dim, hidden, out):
    with torch.no_grad():
        head[0].weight.copy_(fixed(hidden, in_dim, 1))
        head[0].bias.copy_(fixed(1, hidden, 2)[0])
        head[1].weight.copy_(1.0 + fixed(1, hidden, 3)[0])
        head[1].bias.copy_(fixed(1, hidden, 4)[0])
        head[3].weight.copy_(fixed(out, hidden, 5))
        head[3].bias.copy_(fixed(1, out, 6)[0])


def run(in_dim, hidden, out, batch):
    head = reference_head(in_dim, hidden, out)
    load(head, in_dim, hidden, out)
    x = fixed(batch, in_dim, 7) * 3.0 + 0.25
    head.train()
    with torch.no_grad():
        y_train = head(x.clone())
    head.eval()
    with torch.no_grad():
        y_eval = head(x.clone())
    return y_train, y_eval


def show(name, t):
    vals = ", ".join(f"{v:.9g}" for v in t.flatten().tolist())
    print(f"// {name} {list(t.shape)}\n{{{vals}}};")


def main():
    torch.set_num_threads(1)
    print("// torch", torch.__version__)
    # Small head: in 5 -> hidden 6 -> out 4, batch 3: every value.
    y_train, y_eval = run(5, 6, 4, 3)
    show("small train", y_train)
    show("small eval", y_eval)
    # Paper widths (vision head 2048 -> 2048 -> 512), batch 3: first 4 and last 4 columns of each row.
    y_train, y_eval = run(2048, 2048, 512, 3)
    cols = [0, 1, 2, 3, 508, 509, 510, 511]
    show("paper train, columns 0-3 and 508-511", y_train[:, cols])
    show("paper eval, columns 0-3 and 508-511", y_eval[:, cols])
    # Batch of 2 in training mode: every output is +-1 up to eps.
    y_two, _ = run(5, 6, 4, 2)
    show("small train, batch 2", y_two)


if __name__ == "__main__":
    main()
