/* Room for one more element in a growing array: the files of puente-report share it. */
#ifndef RPT_GROW_H
#define RPT_GROW_H

#include <stdlib.h>

/* v itself when it has room for element n, else v reallocated (*cap doubled); NULL when out of
 * memory. */
static inline void *rpt_grow(void *v, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;

	if (n < *cap)
		return v;
	v = realloc(v, c * size);
	if (v)
		*cap = c;
	return v;
}

#endif
