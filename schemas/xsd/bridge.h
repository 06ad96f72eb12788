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

/* What one validation may cost; see xsd.Limits. */
struct mw_limits {
  long max_text; /* bytes of a text node, CDATA section or attribute value */
  long max_name; /* bytes of an element or attribute name or prefix */
  long max_ids;  /* xs:ID values plus unresolved xs:IDREF values; 0: no ID checks */
};

/* The error code of a refusal for exceeding a limit (libxml2 2.9 has no
 * code of its own for that; 2.11 calls it XML_ERR_RESOURCE_LIMIT). */
#define MW_ERR_LIMIT 9001

/* mw_validate's answer when the libxml2 loaded at run time is not the one
 * whose private structures the bridge reads (libxml2_private.h). */
#define MW_ERR_VERSION (-2)

/* mw_validate's answer when libxml2's validator was not plugged into the
 * parser as the bridge expects. */
#define MW_ERR_PLUG (-3)

/* Validates the document read through meldewegRead(handle) against schema.
 * Returns 0 if valid, >0 if invalid or not well-formed, <0 on internal
 * error. Problems are reported through meldewegProblem. */
int mw_validate(xmlSchemaPtr schema, uintptr_t handle, struct mw_limits limits);

#endif
