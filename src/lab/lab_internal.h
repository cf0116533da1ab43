/* Private to src/lab/: helpers shared by lab.c, stats.c, export.c and svg.c. */
#ifndef ABLAB_LAB_INTERNAL_H
#define ABLAB_LAB_INTERNAL_H

#include <stddef.h>

/* q-quantile with linear interpolation between order statistics (sorts v in place); NaN if n == 0. */
double lab_quantile(double *v, size_t n, double q);
int lab_cmp_double(const void *a, const void *b);

#endif
