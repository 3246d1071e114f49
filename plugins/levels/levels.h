/*
 * The levels plugin: meters for every channel and every interpreter
 * microphone, alarms, listener health, to technicians (levels.update,
 * levels.alarm) and to Prometheus (/levels/metrics).
 */
#ifndef PUENTE_LEVELS_H
#define PUENTE_LEVELS_H

#include <puente/plugin.h>

extern const struct puente_plugin levels_plugin;

#endif
