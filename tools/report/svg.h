/* The whole event's participants by country, sector and gender as an SVG bar chart. */
#ifndef RPT_SVG_H
#define RPT_SVG_H

#include <stdio.h>

#include "report/figures.h"

/* A self-contained SVG (no scripts, no external references). 0, or -1 when writing failed. */
int rpt_svg_write(FILE *f, const char *title, const struct rpt_figures *event);

#endif
