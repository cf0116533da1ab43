/* A prompt file as the input: lines, '#' comments, JSON lines {"prompt": ...}, UTF-8 checks. */
#include "fuzz.h"
#include "lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("prompts.txt", data, size);
    LabStrList l = {0};
    LabErr e = {0};
    if (lab_prompts_read(path, &l, &e) == 0) {
        for (size_t i = 0; i < l.n; i++)
            if (!l.v[i][0]) abort(); /* an empty prompt is never read */
        lab_strlist_free(&l);
    }
    return 0;
}
