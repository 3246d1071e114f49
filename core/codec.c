/* Opus encoder and decoder with the room's settings. */
#include "codec.h"

#include <puente/protocol.h>

#include "log.h"

OpusEncoder *puente__encoder_create(int bitrate)
{
	int err;
	OpusEncoder *enc = opus_encoder_create(PUENTE_SAMPLE_RATE, 1, OPUS_APPLICATION_AUDIO, &err);

	if (!enc) {
		log_error("opus: cannot create encoder: %s", opus_strerror(err));
		return NULL;
	}
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
	opus_encoder_ctl(enc, OPUS_SET_VBR(1));
	/* In-band FEC only helps if the encoder expects some loss. */
	opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_AUTO));
	return enc;
}

OpusDecoder *puente__decoder_create(void)
{
	int err;
	OpusDecoder *dec = opus_decoder_create(PUENTE_SAMPLE_RATE, 1, &err);

	if (!dec)
		log_error("opus: cannot create decoder: %s", opus_strerror(err));
	return dec;
}
