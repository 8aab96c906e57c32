#!/usr/bin/python3
"""Replays the GAN trainer's short run in PyTorch, to make gan_short_run_trajectory.csv.

ember's trainer run with --trace writes the initial weights of both networks and every random draw
(each critic step's real batch, latent batch and interpolation weights) to a safetensors file. This
script loads them into the same networks in PyTorch (torch.nn.Linear/ReLU, whose state_dict names
match ember's) and runs the same WGAN-GP loop with torch.optim.Adam, torch.autograd.grad(create_graph)
and torch's own losses, then writes the per-step losses. So the reference is independent of ember's
ops, autograd and optimizer; only the data is shared.

  build/examples/gan --data 8gaussians --loss wgan-gp --steps 30 --batch-size 64 --log-every 1 \
      --every 15 --eval-samples 2000 --seed 7 --quiet --out /tmp/g --trace /tmp/g/trace.safetensors
  tests/examples/make_gan_reference.py /tmp/g/trace.safetensors 30 > tests/examples/gan_short_run_trajectory.csv
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in meta.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[info["dtype"]]).view(info["shape"]).clone()
    return out, meta.get("__metadata__", {})


def mlp(inp, out, width=256, hidden=3):
    layers, n = [], inp
    for _ in range(hidden):
        layers += [torch.nn.Linear(n, width), torch.nn.ReLU()]
        n = width
    layers.append(torch.nn.Linear(n, out))
    return torch.nn.Sequential(*layers)


def main():
    trace, meta = load(sys.argv[1])
    steps = int(sys.argv[2])
    assert meta.get("loss") == "wgan-gp", "only the wgan-gp replay is implemented"
    critic_steps = int(meta["critic_steps"])
    torch.set_num_threads(1)
    G, D = mlp(2, 2), mlp(2, 1)
    G.load_state_dict({k[len("init.generator."):]: v for k, v in trace.items() if k.startswith("init.generator.")})
    D.load_state_dict({k[len("init.critic."):]: v for k, v in trace.items() if k.startswith("init.critic.")})
    g_opt = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))
    print("# PyTorch %s replay of ember's trace (tests/examples/make_gan_reference.py)" % torch.__version__)
    print("step,d_loss,g_loss,gp,w_estimate")
    for step in range(steps):
        for k in range(critic_steps):
            key = "step%d.critic%d." % (step, k)
            real, z, eps = trace[key + "real"], trace[key + "z"], trace[key + "eps"]
            if k + 1 < critic_steps:
                with torch.no_grad():
                    fake = G(z)
            else:
                fake = G(z)
            d_real, d_fake = D(real), D(fake.detach())
            d_loss = d_fake.mean() - d_real.mean()
            f = fake.detach()
            x_hat = (f + eps.view(-1, 1) * (real - f)).requires_grad_(True)
            g = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)[0]
            gp = ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            d_opt.zero_grad(set_to_none=True)
            (d_loss + 10 * gp).backward()
            d_opt.step()
            w_estimate = (d_real.mean() - d_fake.mean()).item()
        g_loss = -D(fake).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        print("%d,%.9g,%.9g,%.9g,%.9g" % (step + 1, d_loss.item(), g_loss.item(), gp.item(), w_estimate))


if __name__ == "__main__":
    main()
