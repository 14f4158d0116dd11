/* main.c: host harness of `bitlens validate --target host`: runs the generated network {{NAME}}
 * on float32 inputs read from a file and writes the outputs, raw, for BitLens to compare.
 *   validate_host INPUTS.bin OUTPUTS.bin COUNT
 * INPUTS.bin holds COUNT vectors, each the model inputs in order; OUTPUTS.bin gets the outputs. */
#include <stdio.h>
#include <stdlib.h>

#include "{{NAME}}.h"

static const int in_size[{{UPPER}}_IN_COUNT] = { {{IN_SIZES}} };
static const int out_size[{{UPPER}}_OUT_COUNT] = { {{OUT_SIZES}} };

int main(int argc, char **argv)
{
  FILE *fi, *fo;
  long n, v;
  int i;
  float *in[{{UPPER}}_IN_COUNT], *out[{{UPPER}}_OUT_COUNT];
  if (argc != 4) {
    fprintf(stderr, "usage: %s INPUTS.bin OUTPUTS.bin COUNT\n", argv[0]);
    return 2;
  }
  n = atol(argv[3]);
  fi = fopen(argv[1], "rb");
  fo = fopen(argv[2], "wb");
  if (fi == NULL || fo == NULL) {
    fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  for (i = 0; i < {{UPPER}}_IN_COUNT; i++) in[i] = (float *)malloc(sizeof(float) * (size_t)in_size[i]);
  for (i = 0; i < {{UPPER}}_OUT_COUNT; i++) out[i] = (float *)malloc(sizeof(float) * (size_t)out_size[i]);
  if (bl_{{NAME}}_init(NULL) != BL_OK) {
    fprintf(stderr, "init failed\n");
    return 2;
  }
  for (v = 0; v < n; v++) {
    bl_status st;
    for (i = 0; i < {{UPPER}}_IN_COUNT; i++)
      if (fread(in[i], sizeof(float), (size_t)in_size[i], fi) != (size_t)in_size[i]) {
        fprintf(stderr, "%s: short read\n", argv[1]);
        return 2;
      }
    st = bl_{{NAME}}_run_io((const float *const *)in, out);
    if (st != BL_OK) {
      fprintf(stderr, "vector %ld: run failed (status %d)\n", v, (int)st);
      return 3;
    }
    for (i = 0; i < {{UPPER}}_OUT_COUNT; i++) fwrite(out[i], sizeof(float), (size_t)out_size[i], fo);
  }
  fclose(fi);
  return fclose(fo) == 0 ? 0 : 2;
}
