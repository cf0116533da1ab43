#!/bin/bash
# Re-runs chosen generators only: bash run_part.sh W "models-args" [spm]
#   models-args: model names for models.py (their GGUFs are converted again), or "-" for none.
set -u
W=$(cd "$1" && pwd); M=$2; shift 2
export REFS_IN=$W/in REFS_OUT=/tmp/refout PYTHONUNBUFFERED=1 CUDA_VISIBLE_DEVICES="" \
       HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
rm -rf "$REFS_OUT"; mkdir -p "$REFS_OUT/logs"
cd "$W/refs"
pids=""
if [ "$M" != "-" ]; then
  ( timeout 400 python3 models.py $M && cd "$REFS_OUT/models" && timeout 200 python3 "$W/refs/gguf_convert.py" "$W/llamacpp" $M ) > "$REFS_OUT/logs/models.log" 2>&1 &
  pids="$pids $!"
fi
for g in "$@"; do
  case $g in
    spm) timeout 400 python3 spm.py > "$REFS_OUT/logs/spm.log" 2>&1 & pids="$pids $!" ;;
    peft) timeout 400 python3 peft_refs.py > "$REFS_OUT/logs/peft.log" 2>&1 & pids="$pids $!" ;;
  esac
done
for p in $pids; do wait $p; done
for f in "$REFS_OUT"/logs/*.log; do echo "=== $f"; grep -E "^\[|Error|Traceback|FAILED|assert" "$f" | head -60; done
tar czf - -C "$REFS_OUT" . | split -b 15000000 -d - "$OUT/refs.tar.gz.part"
