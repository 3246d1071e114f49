/* Room input sources other than a device: a looping WAV file and a test tone. */
#ifndef PUENTE_CORE_SOURCE_H
#define PUENTE_CORE_SOURCE_H

#include <stddef.h>

/* Files longer than this are refused: the whole file is held in memory. */
#define PUENTE_FILE_MAX_SECONDS 1800

/*
 * Loads a sound file (any format libsndfile reads), mixes it to mono and
 * resamples it to 48 kHz. *pcm is malloc'd. 0, or -errno with one line logged.
 */
int puente__source_file_load(const char *path, float **pcm, size_t *len);

/* The test signal: 1 kHz sine at -20 dBFS peak. phase is kept by the caller. */
void puente__source_tone(float *out, size_t n, double *phase);

#endif
