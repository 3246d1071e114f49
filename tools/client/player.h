/*
 * Playback for the tools: decoded PCM (mono, 48 kHz, 16 bit) goes into an
 * SPSC ring (<puente/spsc.h>) on the tool's thread; the PortAudio output
 * callback only reads that ring: no lock, allocation or system call there.
 * Plus the PortAudio device helpers the tools share.
 */
#ifndef PCL_PLAYER_H
#define PCL_PLAYER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <portaudio.h>
#include <puente/protocol.h>
#include <puente/spsc.h>

#define PCL_PLAY_RING_SAMPLES (1u << 15)                    /* 683 ms */
#define PCL_PLAY_PREBUFFER    (PUENTE_SAMPLE_RATE * 3 / 50) /* 60 ms cushion */

/* Ring first: it wants 64-byte alignment (pcl_alloc_aligned). */
struct pcl_player {
	struct puente_spsc ring;
	int16_t buf[PCL_PLAY_RING_SAMPLES];
	PaStream *stream;
	bool primed;                /* callback only */
	_Atomic uint32_t underruns; /* callback found the ring dry */
};

/* Zeroed, 64-byte aligned memory (free() releases it); NULL when out of memory. */
void *pcl_alloc_aligned(size_t size);

/* Pa_Initialize() once: *up tells whether it ran. 0, or -EIO (said, *fatal = 1). */
int pcl_pa_start(bool *up, int *fatal);
/* Lists the input or output devices on stderr. */
void pcl_pa_list_devices(bool input);
/*
 * spec: NULL (the default device), an index, or part of a device name (any
 * case); with default_word, "default" also names the default device.
 */
PaDeviceIndex pcl_pa_find_device(const char *spec, bool input, bool default_word);

/* A player with an empty ring and no stream; NULL when out of memory. */
struct pcl_player *pcl_player_new(void);
/*
 * Starts playing on the output device spec names (pcl_pa_find_device), once
 * PortAudio is up. 0 with *device set to its name, or -errno: the reason is
 * said (and the devices listed if none matched) and *fatal becomes 1 unless
 * it is set already.
 */
int pcl_player_open(struct pcl_player *p, const char *spec, bool default_word, const char **device,
                    int *fatal);
/* n samples into the ring; a full ring drops the block (the ring counts it). */
void pcl_player_write(struct pcl_player *p, const int16_t *pcm, uint32_t n);
uint32_t pcl_player_underruns(const struct pcl_player *p);
uint32_t pcl_player_overruns(const struct pcl_player *p);
/* Stops and closes the stream, if one is open; PortAudio stays up. */
void pcl_player_stop(struct pcl_player *p);

#endif
