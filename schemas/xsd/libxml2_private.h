/*
 * libxml2_private.h: the few private structures of libxml2 2.9.14's
 * xmlschemas.c that the bridge reads, copied field for field from
 * https://gitlab.gnome.org/GNOME/libxml2/-/blob/v2.9.14/xmlschemas.c
 * (lines 359-363, 426-448, 524-539, 888-917, 973-1053).
 *
 * Why: libxml2 checks xs:ID uniqueness only when it validates a tree
 * (xmlSchemaValAtomicType adds attribute IDs to the document's ID table);
 * its streaming validator knows the type of every element and attribute but
 * keeps that to itself. The bridge reads the type the validator assigned
 * (vctxt->inode->typeDef) instead of re-implementing element declaration
 * lookup, xsi:type, substitution groups and wildcards.
 *
 * The layouts are only valid for 2.9.14: compiling against other headers
 * fails below, and mw_validate refuses to run when the library loaded at run
 * time reports another version (xmlParserVersion).
 */
#ifndef MELDEWEG_XSD_LIBXML2_PRIVATE_H
#define MELDEWEG_XSD_LIBXML2_PRIVATE_H

#include <libxml/xmlversion.h>
#include <libxml/schemasInternals.h>
#include <libxml/xmlregexp.h>
#include <libxml/xmlreader.h>

#if LIBXML_VERSION != 20914
#error "schemas/xsd reads private structures of libxml2 2.9.14; check libxml2_private.h against this version's xmlschemas.c"
#endif

#define MW_LIBXML2_VERSION "20914"

typedef struct mw_item_list {
  void **items;
  int nbItems;
  int sizeItems;
} mw_item_list;

typedef struct mw_import {
  int type;
  int flags;
  const xmlChar *schemaLocation;
  const xmlChar *origTargetNamespace;
  const xmlChar *targetNamespace;
  xmlDocPtr doc;
  void *relations;
  int located;
  int parsed;
  int imported;
  int preserveDoc;
  mw_item_list *globals;
  mw_item_list *locals;
  xmlSchemaPtr schema;
} mw_import;

typedef struct mw_attr_use {
  xmlSchemaTypeType type;
  xmlSchemaAnnotPtr annot;
  struct mw_attr_use *next;
  xmlSchemaAttributePtr attrDecl;
  int flags;
  xmlNodePtr node;
  int occurs;
  const xmlChar *defValue;
  xmlSchemaValPtr defVal;
} mw_attr_use;

#define MW_ELEM_INFO_NILLED (1 << 2)

typedef struct mw_node_info {
  int nodeType;
  xmlNodePtr node;
  int nodeLine;
  const xmlChar *localName;
  const xmlChar *nsName;
  const xmlChar *value;
  xmlSchemaValPtr val;
  xmlSchemaTypePtr typeDef;
  int flags;
  int valNeeded;
  int normVal;
  xmlSchemaElementPtr decl;
  int depth;
  void *idcTable;
  void *idcMatchers;
  xmlRegExecCtxtPtr regexCtxt;
  const xmlChar **nsBindings;
  int nbNsBindings;
  int sizeNsBindings;
  int hasKeyrefs;
  int appliedXPath;
} mw_node_info;

typedef struct mw_valid_ctxt {
  int type;
  void *errCtxt;
  xmlSchemaValidityErrorFunc error;
  xmlSchemaValidityWarningFunc warning;
  xmlStructuredErrorFunc serror;
  xmlSchemaPtr schema;
  xmlDocPtr doc;
  xmlParserInputBufferPtr input;
  xmlCharEncoding enc;
  xmlSAXHandlerPtr sax;
  xmlParserCtxtPtr parserCtxt;
  void *user_data;
  char *filename;
  int err;
  int nberrors;
  xmlNodePtr node;
  xmlNodePtr cur;
  xmlRegExecCtxtPtr regexp;
  xmlSchemaValPtr value;
  int valueWS;
  int options;
  xmlNodePtr validationRoot;
  xmlSchemaParserCtxtPtr pctxt;
  int xsiAssemble;
  int depth;
  mw_node_info **elemInfos;
  int sizeElemInfos;
  mw_node_info *inode;
  void *aidcs;
  void *xpathStates;
  void *xpathStatePool;
  void *idcMatcherCache;
  void **idcNodes;
  int nbIdcNodes;
  int sizeIdcNodes;
  void **idcKeys;
  int nbIdcKeys;
  int sizeIdcKeys;
  int flags;
  xmlDictPtr dict;
#ifdef LIBXML_READER_ENABLED
  xmlTextReaderPtr reader;
#endif
  void **attrInfos;
  int nbAttrInfos;
  int sizeAttrInfos;
  int skipDepth;
  mw_item_list *nodeQNames;
  int hasKeyrefs;
  int createIDCNodeTables;
  int psviExposeIDCNodeTables;
  xmlSchemaValidityLocatorFunc locFunc;
  void *locCtxt;
} mw_valid_ctxt;

#endif
