#!/bin/bash
# Runs every reference generator and packs the results into $OUT/refs.tar.gz.
# Layout expected (see tools/refs/README.md): $W/refs (these scripts), $W/in (inputs), $W/llamacpp
# (convert_hf_to_gguf.py + gguf-py + COMMIT). Usage: bash run_all.sh W [groups...]
set -u
W=$(cd "$1" && pwd); shift
GROUPS_=${*:-"models chat spm peft layouts"}
export REFS_IN=$W/in REFS_OUT=/tmp/refout PYTHONUNBUFFERED=1 CUDA_VISIBLE_DEVICES="" \
       HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
rm -rf "$REFS_OUT"; mkdir -p "$REFS_OUT/logs"
cd "$W/refs"
python3 -c "import common, json; print(json.dumps(common.versions()))" | tee "$REFS_OUT/versions.json"
python3 -m pip list 2>/dev/null | grep -i -E "^(torch|transformers|tokenizers|peft|safetensors|sentencepiece|numpy|jinja2|gguf|protobuf|huggingface.hub) " | tee "$REFS_OUT/pip_list.txt"
pids=""
for g in $GROUPS_; do
  case $g in
    models) ( timeout 500 python3 models.py && timeout 200 python3 gguf_convert.py "$W/llamacpp" "$REFS_OUT"/models/*/ ) > "$REFS_OUT/logs/models.log" 2>&1 & ;;
    chat) timeout 300 python3 chat.py > "$REFS_OUT/logs/chat.log" 2>&1 & ;;
    spm) timeout 400 python3 spm.py > "$REFS_OUT/logs/spm.log" 2>&1 & ;;
    peft) timeout 400 python3 peft_refs.py > "$REFS_OUT/logs/peft.log" 2>&1 & ;;
    layouts) timeout 300 python3 layouts.py > "$REFS_OUT/logs/layouts.log" 2>&1 & ;;
  esac
  pids="$pids $!"
done
for p in $pids; do wait $p; done
for f in "$REFS_OUT"/logs/*.log; do echo "=== $f"; grep -v "^\s*$" "$f" | grep -E "^\[|Error|error|Traceback|FAILED|assert" | head -60; done
# files coming back are limited to 16 MiB each: split the archive
tar czf - -C "$REFS_OUT" . | split -b 15000000 -d - "$OUT/refs.tar.gz.part"
du -sh "$REFS_OUT"/*
ls -la "$OUT"
