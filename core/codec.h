/* Opus settings of the room: one encoder per channel, mono 48 kHz, FEC on. */
#ifndef PUENTE_CORE_CODEC_H
#define PUENTE_CORE_CODEC_H

#include <opus.h>

/* NULL on failure (logged). */
OpusEncoder *puente__encoder_create(int bitrate);
OpusDecoder *puente__decoder_create(void);

#endif
