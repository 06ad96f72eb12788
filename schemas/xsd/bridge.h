/*
 * bridge.h: the small C layer between Go and libxml2's streaming (SAX)
 * XML Schema validation. See bridge.c for why it exists.
 */
#ifndef MELDEWEG_XSD_BRIDGE_H
#define MELDEWEG_XSD_BRIDGE_H

#include <stdint.h>
#include <libxml/xmlschemas.h>

/* Problem kinds reported to Go; they mirror xsd.Kind. */
#define MW_KIND_WELLFORMED 1
#define MW_KIND_VALIDITY 2
#define MW_KIND_SECURITY 3
#define MW_KIND_IO 4
#define MW_KIND_SCHEMA 5

void mw_init(void);

/* Compiles the schema at entry_uri. Every resource the schema parser asks
 * for is served by the Go resolver behind handle; nothing else is read.
 * Problems are reported through meldewegSchemaProblem. Returns NULL on
 * failure. */
xmlSchemaPtr mw_compile(const char *entry_uri, uintptr_t handle);

/* Validates the document read through meldewegRead(handle) against schema.
 * Returns 0 if valid, >0 if invalid or not well-formed, <0 on internal
 * error. Problems are reported through meldewegProblem. */
int mw_validate(xmlSchemaPtr schema, uintptr_t handle);

#endif
