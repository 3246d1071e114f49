/* Fuzz target: one WebSocket text message through the control parser. */
#include <stddef.h>
#include <stdint.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct puente__ctl c;

	/* The relay never passes more than a message's cap. */
	if (size > 16384)
		return 0;
	puente__ctl_parse((const char *)data, size, &c);
	puente__ctl_fini(&c);
	return 0;
}
