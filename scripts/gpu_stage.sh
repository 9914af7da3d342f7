#!/usr/bin/env bash
# One continuation stage on a lent GPU, sized to a wall-clock budget (the device tool lends minutes):
#
#     scripts/gpu_stage.sh INIT_CKPT WORK_DIR SECONDS [SEED]
#
# 1. Starts building a fresh corpus on the CPU cores, in the background.
# 2. Checks the GPU path on a one-shard corpus, CHECK_STEPS steps each: DDP under torchrun (nccl on
#    CUDA), bf16 eager, bf16 with torch.compile, fp32 eager. WORK_DIR/checks.jsonl gets each one's
#    steady tokens/s (between the last two logged steps, so compilation is not counted).
#    CHECKS=0 skips them: bf16 with torch.compile, sized at TPS tokens/s (default 4e6, the H100's).
# 3. Trains from INIT_CKPT with the faster bf16 variant while the corpus is still being built: the
#    trainer opens one more shard every --shard-every steps, set from the build's measured rate so
#    it seldom waits (the GPU had idled for the 2 min the build took). The cosine schedule is sized
#    to the time left, so it ends at its minimum learning rate inside the budget. Result:
#    WORK_DIR/stage/best. The build stops with the stage.
#
# Environment: PYTHON (python3), BATCH (256 rows), LR (6e-4, minimum a tenth), TOKENS (corpus size,
# 3e8; the stage may see it more than once), MIX (memgpt data --mix; the default mix when unset),
# WORKERS (cores - 2), CHECK_STEPS (40), CHECKS (1), TPS (4e6; used when CHECKS=0).
# memgpt.training must be importable by PYTHON: `pip install -e .`, or where the project's
# dependencies cannot be installed (the lent machines have torch and tiktoken but no faiss, which
# training does not use), links in the checkout: ln -s ../training memgpt/training; ln -s ../memory memgpt/memory
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 INIT_CKPT WORK_DIR SECONDS [SEED]" >&2
  exit 2
fi
INIT=$1 WORK=$2 BUDGET=$3 SEED=${4:-7}
PY=${PYTHON:-python3}
BATCH=${BATCH:-256} LR=${LR:-6e-4} TOKENS=${TOKENS:-3e8} CHECK_STEPS=${CHECK_STEPS:-40} CHECKS=${CHECKS:-1}
WORKERS=${WORKERS:-$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))}
T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
mkdir -p "$WORK"
: > "$WORK/checks.jsonl"
CORPUS=(--tokenizer "$INIT" --seed "$SEED" --letter-start-share 0.45 ${MIX:+--mix "$MIX"})
COMMON=(--init-from "$INIT" --batch-size "$BATCH" --progress false --seed "$SEED" --device auto)

$PY -m memgpt.training.data "${CORPUS[@]}" --out "$WORK/data" --tokens "$TOKENS" --workers "$WORKERS" \
  > "$WORK/data.log" 2>&1 &
data_pid=$!
trap 'kill $data_pid 2>/dev/null || true' EXIT  # the build stops with the stage

check() {  # NAME COMMAND...: a short run on the small corpus; its steady tokens/s to checks.jsonl
  local name=$1
  shift
  if ! "$@" --data "$WORK/small" --out "$WORK/check_$name" "${COMMON[@]}" --max-tokens 1e12 --lr "$LR" \
      --stop-after "$CHECK_STEPS" --log-every $(( CHECK_STEPS / 4 )) --eval-every 1000000 --ckpt-every 1000000 \
      > "$WORK/check_$name.log" 2>&1; then
    echo "{\"check\": \"$name\", \"ok\": false}" >> "$WORK/checks.jsonl"
    tail -5 "$WORK/check_$name.log" >&2
    return
  fi
  $PY - "$name" "$WORK/check_$name/metrics.jsonl" >> "$WORK/checks.jsonl" <<'EOF'
import json, sys
m = [json.loads(line) for line in open(sys.argv[2]) if '"loss"' in line]
a, b = m[-3], m[-1]
print(json.dumps({"check": sys.argv[1], "ok": True, "steady_tok_per_s": round((b["tokens"] - a["tokens"]) / (b["time"] - a["time"])),
                  "loss": b["loss"]}))
EOF
}
TRAIN=($PY -m memgpt.training.train)
if [ "$CHECKS" = 0 ]; then
  echo "{\"check\": \"bf16_compiled\", \"ok\": true, \"steady_tok_per_s\": $(awk "BEGIN{print int(${TPS:-4e6})}"), \"assumed\": true}" \
    > "$WORK/checks.jsonl"
else
  $PY -m memgpt.training.data "${CORPUS[@]}" --out "$WORK/small" --tokens 1e6 > /dev/null 2>&1
  check ddp_1proc torchrun --standalone --nproc_per_node 1 -m memgpt.training.train --dtype bfloat16
  check bf16 "${TRAIN[@]}" --dtype bfloat16
  check bf16_compiled "${TRAIN[@]}" --dtype bfloat16 --compile true
  check fp32 "${TRAIN[@]}" --dtype float32
fi
cat "$WORK/checks.jsonl"

# the faster bf16 variant, and the tokens it gets through in the time left
read -r COMPILE TPS < <($PY - "$WORK/checks.jsonl" <<'EOF'
import json, sys
r = {c["check"]: c for c in map(json.loads, open(sys.argv[1])) if c["ok"]}
if "bf16" not in r and not r.get("bf16_compiled", {}).get("assumed"):
    sys.exit("the bf16 check failed: no stage")
fast = "bf16_compiled" in r and ("bf16" not in r or r["bf16_compiled"]["steady_tok_per_s"] > 1.1 * r["bf16"]["steady_tok_per_s"])
print("true" if fast else "false", r["bf16_compiled" if fast else "bf16"]["steady_tok_per_s"])
EOF
)
if [ -z "${TPS:-}" ]; then
  exit 1
fi
# one more shard every SHARD_EVERY steps: the build's rate so far, with a quarter to spare
# (0 once the build has finished: all shards from the start)
SHARD_EVERY=$($PY - "$WORK/data" "$T0" "$TPS" "$BATCH" "$WORKERS" "$data_pid" <<'EOF'
import glob, json, math, os, sys, time
data, t0, tps, batch, workers = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
meta = os.path.join(data, "meta.json")

def build_alive():
    try:
        return open(f"/proc/{sys.argv[6]}/stat").read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

def wait_for(ready):  # a build that died (an import missing on the lent machine, say) must not hang the stage
    while not ready():
        if not build_alive() and not ready():
            sys.exit(f"the corpus build stopped early: see {os.path.dirname(data)}/data.log")
        time.sleep(1)

def shards_done():
    return len(glob.glob(os.path.join(data, "train_*.mask.npy")))

wait_for(lambda: os.path.exists(meta))
n = json.load(open(meta))["n_shards"]
# the workers finish their shards together: measure over two rounds of them
wait_for(lambda: shards_done() >= min(n, 2 * workers))
done = shards_done()
if done >= n:
    print(0)
else:
    shards_per_s = done / (time.time() - t0)
    steps_per_s = tps / (batch * 256)
    print(max(1, math.ceil(1.25 * steps_per_s / shards_per_s)))
EOF
)
echo "following the corpus build: one more shard every $SHARD_EVERY steps (0: all built)"
# Startup, evaluations and the final save took 12 s on the H100 (compilation hit the check's
# cache); sized with 120 s for them and 10% to spare, the first stage ended 144 s early.
overhead=30
if [ "$COMPILE" = true ]; then overhead=60; fi
STAGE_TOKENS=$(( TPS * ($(left) - overhead) * 19 / 20 ))
echo "stage: compile=$COMPILE, $TPS tokens/s, $STAGE_TOKENS tokens, $(left) s left"
if [ "$STAGE_TOKENS" -le 0 ]; then
  echo "no time left for the stage" >&2
  exit 1
fi
timeout $(( $(left) - 10 )) "${TRAIN[@]}" --data "$WORK/data" --out "$WORK/stage" "${COMMON[@]}" --dtype bfloat16 \
  --compile "$COMPILE" --max-tokens "$STAGE_TOKENS" --lr "$LR" --min-lr "$(awk "BEGIN{print $LR/10}")" \
  --warmup-tokens 5e6 --eval-every 200 --ckpt-every 1000 --log-every 50 --shard-every "$SHARD_EVERY" \
  || echo "the stage stopped early (rc $?)" >&2
echo "done, $(left) s left"
