#!/usr/bin/env bash
# How storage/testdata/schema_v1.db was made: a database written by the code
# of schema version 1 (commit 5ab97bb, before the typed experiment model),
# for the migration tests. It needs that commit's build, not this one's:
#   git worktree add /tmp/v1 5ab97bb && cmake -S /tmp/v1 -B /tmp/v1/build -G Ninja
#   ninja -C /tmp/v1/build sslab-scheduler sslab sslab-trainer sslab-extractor sslab-evaluator
#   mkdir -p /tmp/fixture/var/{artifacts,logs} && cd /tmp/fixture && B=/tmp/v1/build $OLDPWD/make_schema_v1_db.sh
#   sqlite3 var/sslab.db "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; VACUUM;"
# Runs: 1 succeeded (2 layers x 2 probes x 2 label fractions), 2-3 a sweep
# over widths (succeeded), 4 failed (no dataset), 5 cancelled, 6 queued.
set -euo pipefail
B=${B:-/work/v1/build}
VAR=$PWD/var
$B/services/scheduler/sslab-scheduler --listen 127.0.0.1:0 --port-file $VAR/s.port --db $VAR/sslab.db --data-dir $VAR/artifacts 2>$VAR/logs/s.log &
SP=$!
for i in $(seq 100); do [ -s $VAR/s.port ] && break; sleep 0.1; done
export SSLAB_ADDR=127.0.0.1:$(cat $VAR/s.port)
pids=($SP)
for w in trainer extractor evaluator; do
  $B/services/$w/sslab-$w --listen 127.0.0.1:0 --scheduler $SSLAB_ADDR --artifacts $VAR/artifacts --devices cpu --threads 2 2>$VAR/logs/$w.log &
  pids+=($!)
done
S=$B/cli/sslab
D=idx:/usr/share/datasets/fashion-mnist
# 1: a finished run with two probes and two label fractions.
$S submit -q --name tiny --method rotation --arch resnet50_v2 --width 1 --dataset $D --max-examples 64 --epochs 1 --layers block3,pixels --probes lbfgs,sgd --label-fractions 1,0.5 --seed 7
$S watch 1 >/dev/null
# 2, 3: a sweep over widths at random init, evaluated (exercises grid_json).
$S sweep -q --name widths --methods rotation --archs vgg19_bn --widths 1,2 --dataset $D --max-examples 32 --batch-size 16 --epochs 0 --layers fc6 --probes mlp
$S watch 2 >/dev/null || true; $S watch 3 >/dev/null || true
# 4: a failed run (no such dataset).
$S submit -q --name broken --method jigsaw --arch revnet50 --width 1 --dataset idx:/nonexistent --epochs 1
$S watch 4 >/dev/null || true
# 5: a CUDA run nobody can take, cancelled.  6: one left queued.
$S submit -q --name cancelled --method exemplar --arch resnet50_v1 --dataset $D --device cuda --priority 3
$S cancel 5 --reason "no GPU here" >/dev/null
$S submit -q --name queued --method supervised --arch resnet50_v2 --dataset $D --device cuda --eval-every 5 --decay-epochs 10,20 --lr 0.2
$S ls
for p in "${pids[@]}"; do kill -TERM $p; done
wait
