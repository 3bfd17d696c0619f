#!/usr/bin/env bash
# Retention and float16 features on Fashion-MNIST (docs/retention.md): two
# runs that differ only in --feature-dtype, the scheduler started with
# --auto-gc=false so that the disk before and after `sslab gc` shows.
# Usage: BUILD_DIR=build bench/retention/float16_and_gc.sh
set -euo pipefail
B=${BUILD_DIR:-build}
D=${OUT_DIR:-/tmp/sslab-retention}; rm -rf $D; mkdir -p $D/var
$B/services/scheduler/sslab-scheduler --listen 127.0.0.1:0 --db $D/var/sslab.db --data-dir $D/var/artifacts --port-file $D/s.port --http-listen= --auto-gc=false > $D/scheduler.log 2>&1 &
while [ ! -s $D/s.port ]; do sleep 0.1; done
export SSLAB_ADDR=127.0.0.1:$(cat $D/s.port)
for w in trainer extractor evaluator; do
  $B/services/$w/sslab-$w --listen 127.0.0.1:0 --scheduler $SSLAB_ADDR --artifacts $D/var/artifacts --devices cpu --threads 2 --port-file $D/$w.port > $D/$w.log 2>&1 &
done
S=$B/cli/sslab
sub() { $S submit -q --method rotation --arch resnet50_v2 --width 1 --dataset idx:/usr/share/datasets/fashion-mnist --max-examples 2000 --epochs 3 --eval-every 1 --layers block3,block4,pre_logits --probes lbfgs --seed 3 --threads 2 "$@"; }
R32=$(sub --name fp32 --feature-dtype float32)
R16=$(sub --name fp16 --feature-dtype float16)
$S watch $R32 --max-seconds 3600 > /dev/null; $S watch $R16 --max-seconds 3600 > /dev/null
for r in $R32 $R16; do echo "== run $r"; $S show $r | grep -E "^(name|disk|evaluation):"; du -sb $D/var/artifacts/runs/$r | cut -f1; $S -o csv results $r | awk -F, 'NR>1 && $10=="test" {print $6, $7, $11}'; done
echo "== gc --dry-run"; $S gc --dry-run | tail -1
echo "== gc"; $S gc | tail -1
for r in $R32 $R16; do echo "== run $r after"; $S show $r | grep -E "^disk:"; du -sb $D/var/artifacts/runs/$r | cut -f1; $S checkpoints $r | awk '{print $2, $NF}' ; done
kill %1 %2 %3 %4 2>/dev/null || true
