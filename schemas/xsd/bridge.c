/*
 * bridge.c: streaming XSD validation on libxml2 for Meldeweg.
 *
 * Why our own layer: github.com/lestrrat-go/libxml2 only validates whole
 * in-memory DOM documents (1.34 GiB peak RSS for a 100 MB file, no line
 * numbers, at most 32 errors; see shared/notes/libraries.md). libxml2's own
 * SAX validation (xmlSchemaValidateStream) runs in constant memory and
 * reports every error with its position, so this file wires exactly that:
 *
 *   - a thread-local resolver: while a schema is compiled on this thread,
 *     every resource libxml2 asks for (entry, xs:include, xs:import, also by
 *     absolute http(s) URL) is served by Go from the bundle; everything else,
 *     on every thread, is refused. libxml2 never opens a socket or a file.
 *   - a thin layer around the validator's SAX callbacks (see "Validation"
 *     below) that keeps the element stack, so every problem carries an
 *     element path; hands character data to the validator once per text
 *     node; enforces the size limits; checks xs:ID and xs:IDREF; and refuses
 *     DTD entity declarations and external DTD subsets (XXE, "billion
 *     laughs") with a clear message.
 *   - per-call structured error handlers (libxml2's error switches are per
 *     OS thread; a cgo call stays on one thread for its whole duration).
 */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlschemastypes.h>
#include <libxml/hash.h>
#include <libxml/tree.h>
#include "bridge.h"
#include "libxml2_private.h"
#include "_cgo_export.h"

/* The resolver handle of the schema compilation running on this thread,
 * 0 when none is. */
static __thread uintptr_t tls_resolver = 0;
/* The validation running on this thread, NULL when none is. */
static __thread struct mw_vstate *tls_validation = NULL;

static xmlExternalEntityLoader default_loader = NULL;

static xmlParserInputPtr mw_loader(const char *url, const char *id,
                                   xmlParserCtxtPtr ctxt);

static void mw_init_once(void) {
  xmlInitParser();
  xmlSchemaInitTypes();
  default_loader = xmlGetExternalEntityLoader();
  xmlSetExternalEntityLoader(mw_loader);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
void mw_init(void) { pthread_once(&init_once, mw_init_once); }

/* ---------------------------------------------------------------------
 * Resource loading
 */

static struct mw_vstate *current_validation(void) { return tls_validation; }
static void report_refusal(struct mw_vstate *st, const char *url);

static xmlParserInputPtr mw_loader(const char *url, const char *id,
                                   xmlParserCtxtPtr ctxt) {
  (void)id;
  if (url == NULL) return NULL;
  if (tls_resolver != 0) {
    char *data = NULL;
    size_t len = 0;
    if (meldewegResolve(tls_resolver, (char *)url, &data, &len) != 0) {
      return NULL; /* the Go side has recorded why */
    }
    xmlParserInputBufferPtr buf =
        xmlParserInputBufferCreateMem(data, (int)len, XML_CHAR_ENCODING_NONE);
    free(data);
    if (buf == NULL) return NULL;
    xmlParserInputPtr in = xmlNewIOInputStream(ctxt, buf, XML_CHAR_ENCODING_NONE);
    if (in == NULL) {
      xmlFreeParserInputBuffer(buf);
      return NULL;
    }
    /* The URL stays the base for relative references inside the resource. */
    in->filename = (char *)xmlStrdup((const xmlChar *)url);
    return in;
  }
  struct mw_vstate *st = current_validation();
  if (st != NULL) report_refusal(st, url);
  return NULL;
}

/* ---------------------------------------------------------------------
 * Schema compilation
 */

static void schema_error(void *ctx, xmlErrorPtr err) {
  uintptr_t handle = (uintptr_t)ctx;
  if (err == NULL) return;
  meldewegSchemaProblem(handle, err->level, err->domain, err->code,
                        (char *)err->file, err->line,
                        (char *)(err->message ? err->message : ""));
}

xmlSchemaPtr mw_compile(const char *entry_uri, uintptr_t handle) {
  mw_init();
  xmlSchemaPtr schema = NULL;
  xmlStructuredErrorFunc old_serror = xmlStructuredError;
  void *old_sctx = xmlStructuredErrorContext;
  xmlSetStructuredErrorFunc((void *)handle, schema_error);
  tls_resolver = handle;

  xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(entry_uri);
  if (pctxt != NULL) {
    xmlSchemaSetParserStructuredErrors(pctxt, schema_error, (void *)handle);
    schema = xmlSchemaParse(pctxt);
    xmlSchemaFreeParserCtxt(pctxt);
  }

  tls_resolver = 0;
  xmlSetStructuredErrorFunc(old_sctx, old_serror);
  return schema;
}

/* ---------------------------------------------------------------------
 * Validation
 *
 * xmlSchemaValidateStream plugs the validator into the parser's SAX
 * handler (xmlSchemaSAXPlug; with no user handler, directly). At the first
 * read, before the parser has seen a byte, the bridge wraps the plugged
 * callbacks (the handler is the public xmlParserCtxt.sax): start and end
 * tag, characters, ignorable whitespace and CDATA, and adds its own for
 * comments, processing instructions and the DTD. The wrappers
 *
 *   - keep the element stack (name, line and column of each start tag), so
 *     every problem carries an element path;
 *   - hand character data over in at most two pieces per text node where
 *     the validator keeps it (the first chunk, then the rest gathered): the
 *     validator appends each chunk the parser delivers with xmlStrncat,
 *     which measures the value so far every time, so a text node of n bytes
 *     in ~4 KB chunks cost O(n^2). Where the validator does not
 *     keep text, chunks pass through, or (where text is an error) only the
 *     first offending chunk of a text node does: one error per text node, as
 *     in a tree, in flat memory (see text_mode);
 *   - refuse text nodes, attribute values and names longer than the limits;
 *   - check xs:ID uniqueness and xs:IDREF targets with the types the
 *     validator assigned (see libxml2_private.h);
 *   - leave out attributes defaulted from the internal DTD subset, which a
 *     tree built without XML_PARSE_DTDATTR does not have.
 */

struct mw_frame {
  const xmlChar *prefix; /* interned in the parser's dictionary */
  const xmlChar *local;
  int line;
  int col;
};

/* An xs:IDREF value whose ID had not been seen where it occurred. */
struct mw_ref {
  xmlChar *value;
  char *path;
  int line;
  int col;
};

/* A cache of the ID kind of complex types' attributes, by type pointer. */
struct mw_type_slot {
  xmlSchemaTypePtr type;
  int has_id_attrs;
};

enum { TEXT_NONE = 0, TEXT_CHARS = 1, TEXT_CDATA = 2 };
enum { ID_NONE = 0, ID_ID, ID_IDREF, ID_LIST_ID, ID_LIST_IDREF, ID_TREE_ID };

struct mw_vstate {
  uintptr_t handle;
  xmlSchemaValidCtxtPtr vctxt;
  mw_valid_ctxt *priv; /* the same context, its private fields */
  struct mw_limits limits;

  struct mw_frame *stack;
  int cap;
  int depth;
  char *path; /* scratch buffer for element paths */
  size_t path_cap;
  int stopped;
  int fatal; /* parsing stopped on a fatal error */

  /* reading */
  char *rbuf;
  int rpos, rlen, reof;
  int plugged, plug_failed;
  int check_markup; /* measure names and attribute values */

  /* the plugged callbacks the wrappers call */
  xmlParserCtxtPtr pctxt; /* the parser, known once plugged */
  void *plug;
  startElementNsSAX2Func orig_start;
  endElementNsSAX2Func orig_end;
  charactersSAXFunc orig_chars;
  cdataBlockSAXFunc orig_cdata;

  /* pending character data */
  xmlChar *text;
  size_t text_len, text_cap;
  int text_kind;
  int text_mode;
  int run_bad;  /* an offending chunk of this text node went through */
  long run_len; /* bytes of the text node being read */

  /* xs:ID and xs:IDREF */
  xmlHashTablePtr ids; /* value -> first line */
  struct mw_ref *refs;
  long nrefs, refs_cap;
  long nids;
  struct mw_type_slot *types;
  size_t types_cap, ntypes;
  /* id_kind of the simple types seen at element ends, direct-mapped by
   * type pointer: a type's kind never changes during a validation. */
  struct {
    xmlSchemaTypePtr type;
    int kind;
  } kinds[256];
};

static xmlParserCtxtPtr parser_of(struct mw_vstate *st) {
  if (st->pctxt != NULL) return st->pctxt;
  return xmlSchemaValidCtxtGetParserCtxt(st->vctxt);
}

/* element_path renders the current element stack as /a/b:c/d. */
static const char *element_path(struct mw_vstate *st) {
  size_t need = 2;
  for (int i = 0; i < st->depth; i++) {
    need += 2 + strlen((const char *)st->stack[i].local);
    if (st->stack[i].prefix) need += 1 + strlen((const char *)st->stack[i].prefix);
  }
  if (need > st->path_cap) {
    char *p = realloc(st->path, need);
    if (p == NULL) return "";
    st->path = p;
    st->path_cap = need;
  }
  char *w = st->path;
  *w = 0;
  for (int i = 0; i < st->depth; i++) {
    *w++ = '/';
    if (st->stack[i].prefix) {
      size_t n = strlen((const char *)st->stack[i].prefix);
      memcpy(w, st->stack[i].prefix, n);
      w += n;
      *w++ = ':';
    }
    size_t n = strlen((const char *)st->stack[i].local);
    memcpy(w, st->stack[i].local, n);
    w += n;
  }
  *w = 0;
  return st->path;
}

static void emit_at(struct mw_vstate *st, int kind, int level, int domain,
                    int code, int line, int col, const char *msg,
                    const char *path) {
  if (kind != MW_KIND_VALIDITY && level >= XML_ERR_FATAL) st->fatal = 1;
  meldewegProblem(st->handle, kind, level, domain, code, line, col,
                  (char *)msg, (char *)path);
}

static void emit(struct mw_vstate *st, int kind, int level, int domain, int code,
                 int line, int col, const char *msg) {
  emit_at(st, kind, level, domain, code, line, col, msg, element_path(st));
}

static void stop(struct mw_vstate *st) {
  xmlParserCtxtPtr p = parser_of(st);
  st->stopped = 1;
  if (p != NULL) xmlStopParser(p);
}

static void current_pos(struct mw_vstate *st, int *line, int *col) {
  xmlParserCtxtPtr p = parser_of(st);
  *line = 0;
  *col = 0;
  if (p != NULL && p->input != NULL) {
    *line = p->input->line;
    *col = p->input->col;
  }
}

/* refuse stops the parse with a Security problem at the current position. */
static void refuse(struct mw_vstate *st, int code, const char *msg) {
  int line, col;
  if (st->stopped) return;
  current_pos(st, &line, &col);
  emit(st, MW_KIND_SECURITY, XML_ERR_FATAL, XML_FROM_PARSER, code, line, col, msg);
  stop(st);
}

static void report_refusal(struct mw_vstate *st, const char *url) {
  char msg[512];
  snprintf(msg, sizeof msg,
           "external resource \"%.300s\" refused: Meldeweg never loads "
           "external entities, DTDs or schemas named by a document",
           url);
  int line, col;
  current_pos(st, &line, &col);
  emit(st, MW_KIND_SECURITY, XML_ERR_FATAL, XML_FROM_IO, XML_IO_LOAD_ERROR, line,
       col, msg);
  stop(st);
}

/* ---- character data ---- */

static mw_node_info *validated_inode(struct mw_vstate *st);

static void flush_text_slow(struct mw_vstate *st);

/* flush_text hands the gathered rest of a text node to the validator. */
static inline void flush_text(struct mw_vstate *st) {
  if (st->text_kind != TEXT_NONE) flush_text_slow(st);
}

static void flush_text_slow(struct mw_vstate *st) {
  int kind = st->text_kind;
  size_t n = st->text_len;
  st->text_kind = TEXT_NONE;
  st->text_len = 0;
  if (n > 0 && !st->stopped) {
    st->text[n] = 0;
    if (kind == TEXT_CDATA)
      st->orig_cdata(st->plug, st->text, (int)n);
    else
      st->orig_chars(st->plug, st->text, (int)n);
  }
  if (st->text_cap > (1u << 20)) {
    /* A large text node is done; do not keep its buffer. */
    free(st->text);
    st->text = NULL;
    st->text_cap = 0;
  }
}

/* How the chunks of a text node go to the validator, by the content type
 * of the element they are in. */
enum {
  /* The validator ignores the text or looks at each chunk on its own
   * (mixed content without a value constraint, skipped elements). */
  MODE_PASS,
  /* The validator appends the text to the element's value: gather it and
   * hand it over once (simple content, or mixed with a default). */
  MODE_GATHER,
  /* Text is an error here, or only whitespace is allowed (empty or
   * element-only content): the validator complains per chunk, so hand over
   * whitespace and the first offending chunk of the text node, and drop
   * the rest of it: one error per text node, as in a tree, in flat memory. */
  MODE_FIRST_BAD,
  /* Not looked up yet: every mode hands the first chunk of a text node over
   * as it comes, so the mode is looked up at the second chunk, which short
   * text nodes (most) never have. */
  MODE_LATER,
};

static int text_mode(struct mw_vstate *st) {
  mw_node_info *in = validated_inode(st);
  if (in == NULL) return MODE_PASS;
  xmlSchemaTypePtr t = in->typeDef;
  int complex = t->type == XML_SCHEMA_TYPE_COMPLEX ||
                (t->type == XML_SCHEMA_TYPE_BASIC && t->builtInType == XML_SCHEMAS_ANYTYPE);
  if (!complex) return MODE_GATHER;
  switch (t->contentType) {
    case XML_SCHEMA_CONTENT_SIMPLE:
    case XML_SCHEMA_CONTENT_BASIC:
      return MODE_GATHER;
    case XML_SCHEMA_CONTENT_ELEMENTS:
    case XML_SCHEMA_CONTENT_EMPTY:
      return MODE_FIRST_BAD;
    default:
      return (in->decl != NULL && in->decl->value != NULL) ? MODE_GATHER : MODE_PASS;
  }
}

static int is_blank(const xmlChar *ch, int len) {
  for (int i = 0; i < len; i++)
    if (!IS_BLANK_CH(ch[i])) return 0;
  return 1;
}

static void deliver(struct mw_vstate *st, int kind, const xmlChar *ch, int len) {
  if (kind == TEXT_CDATA)
    st->orig_cdata(st->plug, ch, len);
  else
    st->orig_chars(st->plug, ch, len);
}

static void add_text(struct mw_vstate *st, int kind, const xmlChar *ch, int len) {
  if (st->stopped || len <= 0) return;
  int first = 0;
  if (st->text_kind != kind) {
    flush_text(st);
    st->text_kind = kind;
    st->run_len = 0;
    first = 1;
  }
  st->run_len += len;
  if (st->run_len > st->limits.max_text) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "%s longer than %ld bytes refused (the limit on text nodes)",
             kind == TEXT_CDATA ? "CDATA section" : "text node",
             st->limits.max_text);
    st->text_len = 0;
    st->text_kind = TEXT_NONE;
    refuse(st, MW_ERR_LIMIT, msg);
    return;
  }
  if (first) {
    /* The first chunk goes through in every mode (see MODE_LATER); for
     * MODE_FIRST_BAD remember whether it was the offending one. */
    st->run_bad = kind == TEXT_CDATA || !is_blank(ch, len);
    st->text_mode = MODE_LATER;
    deliver(st, kind, ch, len);
    return;
  }
  if (st->text_mode == MODE_LATER) st->text_mode = text_mode(st);
  switch (st->text_mode) {
    case MODE_PASS:
      deliver(st, kind, ch, len);
      return;
    case MODE_FIRST_BAD:
      if (kind == TEXT_CHARS && is_blank(ch, len)) {
        deliver(st, kind, ch, len);
      } else if (!st->run_bad) {
        st->run_bad = 1;
        deliver(st, kind, ch, len);
      }
      return;
  }
  /* MODE_GATHER. The validator keeps the first chunk of a text node as it
   * comes (xmlStrndup) and appends every later one (xmlStrncat): the first
   * went straight through, the rest is gathered and appended once, when
   * the text node ends. A short leaf (one chunk) is never copied. */
  if (st->text_len + (size_t)len + 1 > st->text_cap) {
    size_t ncap = st->text_cap ? st->text_cap : 4096;
    while (ncap < st->text_len + (size_t)len + 1) ncap *= 2;
    /* never more than the limit allows: doubling past it would only cost
     * fresh pages */
    if (ncap > (size_t)st->limits.max_text + 1) ncap = (size_t)st->limits.max_text + 1;
    xmlChar *nt = realloc(st->text, ncap);
    if (nt == NULL) {
      refuse(st, XML_ERR_NO_MEMORY, "out of memory holding a text node");
      return;
    }
    st->text = nt;
    st->text_cap = ncap;
  }
  memcpy(st->text + st->text_len, ch, (size_t)len);
  st->text_len += (size_t)len;
}

static void end_text_run(struct mw_vstate *st) {
  flush_text(st);
  st->run_len = 0;
}

/* ---- xs:ID and xs:IDREF ---- */

/* id_kind says whether simple type t is xs:ID, xs:IDREF, a list of either,
 * or derived from one of them. Unions are not followed (see the package
 * doc). */
static int id_kind(xmlSchemaTypePtr t) {
  for (int guard = 0; t != NULL && guard < 64; guard++) {
    if (t->type == XML_SCHEMA_TYPE_BASIC) {
      switch (t->builtInType) {
        case XML_SCHEMAS_ID: return ID_ID;
        case XML_SCHEMAS_IDREF: return ID_IDREF;
        case XML_SCHEMAS_IDREFS: return ID_LIST_IDREF;
        default: return ID_NONE;
      }
    }
    if (t->type != XML_SCHEMA_TYPE_SIMPLE) return ID_NONE;
    if (t->flags & XML_SCHEMAS_TYPE_VARIETY_UNION) return ID_NONE;
    if (t->flags & XML_SCHEMAS_TYPE_VARIETY_LIST) {
      int k = id_kind(t->subtypes); /* the item type */
      if (k == ID_ID) return ID_LIST_ID;
      if (k == ID_IDREF) return ID_LIST_IDREF;
      return ID_NONE;
    }
    t = t->baseType;
  }
  return ID_NONE;
}

static int refuse_ids(struct mw_vstate *st) {
  char msg[256];
  snprintf(msg, sizeof msg,
           "more than %ld xs:ID values and unresolved xs:IDREF values: the "
           "document is refused (the limit on IDs)",
           st->limits.max_ids);
  refuse(st, MW_ERR_LIMIT, msg);
  return -1;
}

/* Entries of the ID table: the line of the first occurrence, shifted left
 * by one, with the low bit set for tree IDs. Tree IDs are those libxml2's
 * parser puts in a document's ID table when it builds a tree: xml:id, and
 * attributes declared ID in the internal DTD subset. "xmllint --schema"
 * finds a schema ID invalid when its value is in that table already, so
 * tree IDs count against schema IDs (and never against each other). */
#define ID_ENTRY(line, tree, elem) \
  ((void *)(intptr_t)((((line) > 0 ? (line) : 1) << 2) | ((elem) << 1) | (tree)))
#define ID_LINE(e) ((int)((intptr_t)(e) >> 2))
#define ID_ELEM(e) ((int)(((intptr_t)(e) >> 1) & 1))
#define ID_TREE(e) ((int)((intptr_t)(e) & 1))

/* Tree mode ("xmllint --schema", the reference whose verdict Meldeweg
 * gives) puts only attributes of an ID type in its ID table and never
 * resolves IDREFs. What XML Schema's cvc-id asks beyond that — unique IDs
 * in element content, an ID for every IDREF — is reported as a warning:
 * the operator learns of it, and the verdict stays the reference's. */
static const char beyond_tree[] =
    " (a warning: libxml2's tree mode, whose verdict Meldeweg gives, does "
    "not check this)";

static void id_duplicate(struct mw_vstate *st, const xmlChar *v, void *first,
                         int elem, int line, int col) {
  char msg[320];
  int warn = elem || ID_ELEM(first);
  snprintf(msg, sizeof msg, "The value '%%s' is not unique: xs:ID values "
           "must be unique in the document, and this one is already used "
           "on line %d%s", ID_LINE(first), warn ? beyond_tree : "");
  size_t n = strlen(msg) + (size_t)xmlStrlen(v) + 1;
  char *full = malloc(n);
  if (full == NULL) return;
  snprintf(full, n, msg, (const char *)v);
  emit(st, MW_KIND_VALIDITY, warn ? XML_ERR_WARNING : XML_ERR_ERROR,
       XML_FROM_SCHEMASV, XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_1, line, col, full);
  free(full);
}

static void id_seen(struct mw_vstate *st, const xmlChar *v, int tree, int elem,
                    int line, int col) {
  void *first = xmlHashLookup(st->ids, v);
  if (first != NULL) {
    if (!tree || !ID_TREE(first)) id_duplicate(st, v, first, elem, line, col);
    return;
  }
  if (st->nids + st->nrefs >= st->limits.max_ids) {
    refuse_ids(st);
    return;
  }
  if (xmlHashAddEntry(st->ids, v, ID_ENTRY(line, tree, elem)) == 0) st->nids++;
}

static void idref_seen(struct mw_vstate *st, const xmlChar *v, int line, int col) {
  if (xmlHashLookup(st->ids, v) != NULL) return;
  if (st->nids + st->nrefs >= st->limits.max_ids) {
    refuse_ids(st);
    return;
  }
  if (st->nrefs == st->refs_cap) {
    long ncap = st->refs_cap ? st->refs_cap * 2 : 64;
    struct mw_ref *nr = realloc(st->refs, (size_t)ncap * sizeof *nr);
    if (nr == NULL) {
      refuse(st, XML_ERR_NO_MEMORY, "out of memory holding xs:IDREF values");
      return;
    }
    st->refs = nr;
    st->refs_cap = ncap;
  }
  struct mw_ref *r = &st->refs[st->nrefs++];
  r->value = xmlStrdup(v);
  r->path = strdup(element_path(st));
  r->line = line;
  r->col = col;
}

/* id_value registers the ID-typed value v (len bytes, not terminated) of
 * kind k, found in the element on top of the stack. */
static void id_value(struct mw_vstate *st, int k, const xmlChar *v, size_t len,
                     int elem) {
  struct mw_frame *f = &st->stack[st->depth - 1];
  size_t i = 0;
  while (i < len && !st->stopped) {
    while (i < len && IS_BLANK_CH(v[i])) i++;
    size_t j = i;
    while (j < len && !IS_BLANK_CH(v[j])) j++;
    if (j > i) {
      xmlChar *tok = xmlStrndup(v + i, (int)(j - i));
      if (tok == NULL) return;
      /* Only valid NCNames are IDs; the validator reports the others. */
      if (xmlValidateNCName(tok, 0) == 0) {
        if (k == ID_TREE_ID)
          id_seen(st, tok, 1, elem, f->line, f->col);
        else if (k == ID_ID || k == ID_LIST_ID)
          id_seen(st, tok, 0, elem, f->line, f->col);
        else
          idref_seen(st, tok, f->line, f->col);
      }
      xmlFree(tok);
    }
    if (k != ID_LIST_ID && k != ID_LIST_IDREF) break; /* atomic: one token */
    i = j;
  }
}

/* validated_inode is the validator's information on the element on top of
 * the stack, or NULL when it skipped the element (a skip wildcard, or after
 * an error in it or an ancestor). */
static mw_node_info *validated_inode(struct mw_vstate *st) {
  mw_valid_ctxt *v = st->priv;
  if (v->skipDepth != -1 && v->depth >= v->skipDepth) return NULL;
  mw_node_info *in = v->inode;
  if (in == NULL || in->depth != v->depth || in->typeDef == NULL) return NULL;
  return in;
}

static xmlSchemaAttributePtr global_attr(xmlSchemaPtr schema, const xmlChar *name,
                                         const xmlChar *ns) {
  /* as libxml2's WXS_FIND_GLOBAL_ITEM(attrDecl) */
  if (xmlStrEqual(ns, schema->targetNamespace)) {
    xmlSchemaAttributePtr a = xmlHashLookup(schema->attrDecl, name);
    if (a != NULL) return a;
  }
  if (xmlHashSize(schema->schemasImports) > 1) {
    mw_import *imp = xmlHashLookup(schema->schemasImports,
                                   ns ? ns : (const xmlChar *)"##");
    if (imp == NULL || imp->schema == NULL) return NULL;
    return xmlHashLookup(imp->schema->attrDecl, name);
  }
  return NULL;
}

/* attr_type is the type of attribute {ns}name on an element of complex
 * type t, as the validator determined it, or NULL. */
static xmlSchemaTypePtr attr_type(struct mw_vstate *st, xmlSchemaTypePtr t,
                                  const xmlChar *name, const xmlChar *ns) {
  mw_item_list *uses = t->attrUses;
  if (uses != NULL) {
    for (int i = 0; i < uses->nbItems; i++) {
      mw_attr_use *u = uses->items[i];
      if (u == NULL || u->type != XML_SCHEMA_TYPE_ATTRIBUTE_USE || u->attrDecl == NULL)
        continue;
      if (xmlStrEqual(u->attrDecl->name, name) &&
          xmlStrEqual(u->attrDecl->targetNamespace, ns))
        return u->attrDecl->subtypes;
    }
  }
  if (t->attributeWildcard != NULL &&
      t->attributeWildcard->processContents != XML_SCHEMAS_ANY_SKIP) {
    xmlSchemaAttributePtr a = global_attr(st->priv->schema, name, ns);
    if (a != NULL) return a->subtypes;
  }
  return NULL;
}

/* type_may_have_id_attrs answers, cached per type, whether complex type t
 * declares an ID-typed attribute or has an attribute wildcard. */
static int type_may_have_id_attrs(struct mw_vstate *st, xmlSchemaTypePtr t) {
  if (st->ntypes * 2 >= st->types_cap) {
    size_t ncap = st->types_cap ? st->types_cap * 2 : 256;
    struct mw_type_slot *nt = calloc(ncap, sizeof *nt);
    if (nt == NULL) return 1;
    for (size_t i = 0; i < st->types_cap; i++) {
      if (st->types[i].type == NULL) continue;
      size_t h = ((uintptr_t)st->types[i].type >> 4) & (ncap - 1);
      while (nt[h].type != NULL) h = (h + 1) & (ncap - 1);
      nt[h] = st->types[i];
    }
    free(st->types);
    st->types = nt;
    st->types_cap = ncap;
  }
  size_t h = ((uintptr_t)t >> 4) & (st->types_cap - 1);
  while (st->types[h].type != NULL) {
    if (st->types[h].type == t) return st->types[h].has_id_attrs;
    h = (h + 1) & (st->types_cap - 1);
  }
  int has = 0;
  if (t->attributeWildcard != NULL &&
      t->attributeWildcard->processContents != XML_SCHEMAS_ANY_SKIP)
    has = 1;
  mw_item_list *uses = t->attrUses;
  for (int i = 0; !has && uses != NULL && i < uses->nbItems; i++) {
    mw_attr_use *u = uses->items[i];
    if (u != NULL && u->type == XML_SCHEMA_TYPE_ATTRIBUTE_USE &&
        u->attrDecl != NULL && id_kind(u->attrDecl->subtypes) != ID_NONE)
      has = 1;
  }
  st->types[h].type = t;
  st->types[h].has_id_attrs = has;
  st->ntypes++;
  return has;
}

static const xmlChar xsi_ns[] = "http://www.w3.org/2001/XMLSchema-instance";

static const xmlChar xml_prefix[] = "xml";

static void check_id_attrs(struct mw_vstate *st, const xmlChar *localname,
                           const xmlChar *prefix, int nb_attributes,
                           const xmlChar **attributes) {
  xmlParserCtxtPtr p = parser_of(st);
  xmlHashTablePtr dtd = p != NULL ? p->attsSpecial : NULL;
  mw_node_info *in = validated_inode(st);
  xmlSchemaTypePtr t = NULL;
  if (in != NULL && in->localName == localname &&
      in->typeDef->type == XML_SCHEMA_TYPE_COMPLEX &&
      type_may_have_id_attrs(st, in->typeDef))
    t = in->typeDef;
  for (int i = 0, j = 0; i < nb_attributes && !st->stopped; i++, j += 5) {
    const xmlChar *aname = attributes[j], *apfx = attributes[j + 1];
    const xmlChar *ns = attributes[j + 2];
    int k = ID_NONE;
    if ((apfx != NULL && xmlStrEqual(apfx, xml_prefix) && xmlStrEqual(aname, BAD_CAST "id")) ||
        (dtd != NULL && (intptr_t)xmlHashQLookup2(dtd, prefix, localname, apfx, aname) ==
                            XML_ATTRIBUTE_ID))
      k = ID_TREE_ID;
    else if (t != NULL && !(ns != NULL && xmlStrEqual(ns, xsi_ns)))
      k = id_kind(attr_type(st, t, aname, ns));
    if (k == ID_NONE) continue;
    /* libxml2 hands attribute values over with '&' as "&#38;". */
    const xmlChar *v = attributes[j + 3];
    size_t n = (size_t)(attributes[j + 4] - v), w = 0;
    xmlChar *dec = malloc(n + 1);
    if (dec == NULL) return;
    for (size_t r = 0; r < n;) {
      if (r + 4 < n && v[r] == '&' && v[r + 1] == '#' && v[r + 2] == '3' &&
          v[r + 3] == '8' && v[r + 4] == ';') {
        dec[w++] = '&';
        r += 5;
      } else {
        dec[w++] = v[r++];
      }
    }
    id_value(st, k, dec, w, 0);
    free(dec);
  }
}

static void check_id_content(struct mw_vstate *st) {
  mw_node_info *in = validated_inode(st);
  if (in == NULL || (in->flags & MW_ELEM_INFO_NILLED)) return;
  xmlSchemaTypePtr t = in->typeDef;
  if (t->type == XML_SCHEMA_TYPE_COMPLEX) {
    if (t->contentType != XML_SCHEMA_CONTENT_SIMPLE &&
        t->contentType != XML_SCHEMA_CONTENT_BASIC)
      return;
    t = t->contentTypeDef;
  }
  size_t h = (size_t)(((uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15u) >> 56);
  int k;
  if (st->kinds[h].type == t) {
    k = st->kinds[h].kind;
  } else {
    k = id_kind(t);
    st->kinds[h].type = t;
    st->kinds[h].kind = k;
  }
  if (k == ID_NONE) return;
  const xmlChar *v = in->value ? in->value : (const xmlChar *)"";
  id_value(st, k, v, (size_t)xmlStrlen(v), 1);
}

/* check_refs reports every xs:IDREF that names no xs:ID, at the end of the
 * document. */
static void check_refs(struct mw_vstate *st) {
  for (long i = 0; i < st->nrefs; i++) {
    struct mw_ref *r = &st->refs[i];
    if (xmlHashLookup(st->ids, r->value) != NULL) continue;
    static const char tmpl[] =
        "The value '%s' is not a valid reference: no xs:ID in the document "
        "has this value%s";
    size_t n = sizeof tmpl + sizeof beyond_tree + (size_t)xmlStrlen(r->value);
    char *msg = malloc(n);
    if (msg == NULL) return;
    snprintf(msg, n, tmpl, (const char *)r->value, beyond_tree);
    emit_at(st, MW_KIND_VALIDITY, XML_ERR_WARNING, XML_FROM_SCHEMASV,
            XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_1, r->line, r->col, msg,
            r->path ? r->path : "");
    free(msg);
  }
}

static void free_ids(struct mw_vstate *st) {
  for (long i = 0; i < st->nrefs; i++) {
    xmlFree(st->refs[i].value);
    free(st->refs[i].path);
  }
  free(st->refs);
  if (st->ids != NULL) xmlHashFree(st->ids, NULL);
  free(st->types);
}

/* ---- the wrapped callbacks ---- */

static int name_too_long(struct mw_vstate *st, const xmlChar *s) {
  return s != NULL && (long)strlen((const char *)s) > st->limits.max_name;
}

/* markup_too_long refuses a start tag whose names or attribute values
 * exceed the limits, and says so. Kept out of w_start (the common path). */
static __attribute__((noinline)) int markup_too_long(struct mw_vstate *st,
                                                     const xmlChar *localname,
                                                     const xmlChar *prefix,
                                                     int nb_attributes,
                                                     const xmlChar **attributes) {
  char msg[256];
  if (name_too_long(st, localname) || name_too_long(st, prefix)) {
    snprintf(msg, sizeof msg, "element name longer than %ld bytes refused (the limit on names)",
             st->limits.max_name);
    refuse(st, XML_ERR_NAME_TOO_LONG, msg);
    return 1;
  }
  for (int i = 0, j = 0; i < nb_attributes; i++, j += 5) {
    if (name_too_long(st, attributes[j]) || name_too_long(st, attributes[j + 1])) {
      snprintf(msg, sizeof msg, "attribute name longer than %ld bytes refused (the limit on names)",
               st->limits.max_name);
      refuse(st, XML_ERR_NAME_TOO_LONG, msg);
      return 1;
    }
    if (attributes[j + 4] - attributes[j + 3] > st->limits.max_text) {
      snprintf(msg, sizeof msg,
               "attribute value longer than %ld bytes refused (the limit on text nodes)",
               st->limits.max_text);
      refuse(st, MW_ERR_LIMIT, msg);
      return 1;
    }
  }
  return 0;
}

static void w_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                    const xmlChar *URI, int nb_namespaces,
                    const xmlChar **namespaces, int nb_attributes,
                    int nb_defaulted, const xmlChar **attributes) {
  struct mw_vstate *st = tls_validation;
  if (st->stopped) return;
  end_text_run(st);
  if (st->depth == st->cap) {
    int ncap = st->cap ? st->cap * 2 : 64;
    struct mw_frame *ns = realloc(st->stack, (size_t)ncap * sizeof *ns);
    if (ns == NULL) {
      refuse(st, XML_ERR_NO_MEMORY, "out of memory holding the element stack");
      return;
    }
    st->stack = ns;
    st->cap = ncap;
  }
  struct mw_frame *f = &st->stack[st->depth++];
  f->prefix = prefix;
  f->local = localname;
  current_pos(st, &f->line, &f->col);

  if (st->check_markup && markup_too_long(st, localname, prefix, nb_attributes, attributes))
    return;
  /* Attributes defaulted from the internal DTD subset come last; a tree
   * built by xmllint (without --dtdattr) does not have them, so neither
   * does the validator. */
  nb_attributes -= nb_defaulted;
  st->orig_start(ctx, localname, prefix, URI, nb_namespaces, namespaces,
                 nb_attributes, 0, attributes);
  if (st->ids != NULL && nb_attributes > 0 && !st->stopped)
    check_id_attrs(st, localname, prefix, nb_attributes, attributes);
}

static void w_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                  const xmlChar *URI) {
  struct mw_vstate *st = tls_validation;
  if (st->stopped) return;
  end_text_run(st);
  if (st->ids != NULL && !st->stopped) check_id_content(st);
  /* The validator reports the element's own problems (missing children, a
   * bad value) here, with the element still on the stack. */
  st->orig_end(ctx, localname, prefix, URI);
  if (st->depth > 0) st->depth--;
}

static void w_chars(void *ctx, const xmlChar *ch, int len) {
  (void)ctx;
  add_text(tls_validation, TEXT_CHARS, ch, len);
}

static void w_cdata(void *ctx, const xmlChar *ch, int len) {
  (void)ctx;
  add_text(tls_validation, TEXT_CDATA, ch, len);
}

/* Comments and processing instructions end a text node (as in a tree); the
 * validator ignores them. */
static void on_comment(void *ctx, const xmlChar *value) {
  (void)ctx; (void)value;
  end_text_run(tls_validation);
}

static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data) {
  (void)ctx; (void)target; (void)data;
  end_text_run(tls_validation);
}

static void on_comment(void *ctx, const xmlChar *value);
static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data);
static void on_entity_decl(void *ctx, const xmlChar *name, int type,
                           const xmlChar *publicId, const xmlChar *systemId,
                           xmlChar *content);
static void on_internal_subset(void *ctx, const xmlChar *name,
                               const xmlChar *ExternalID,
                               const xmlChar *SystemID);

/* plug wraps the validator's SAX callbacks. It runs at the first read,
 * when xmlSchemaValidateStream has plugged the validator into the parser
 * (with no user handler it plugs directly, without its splitting layer)
 * and the parser has not yet seen a byte. */
static int plug(struct mw_vstate *st) {
  xmlParserCtxtPtr p = parser_of(st);
  if (p == NULL || p->sax == NULL || p->sax->startElementNs == NULL ||
      p->sax->endElementNs == NULL || p->sax->characters == NULL ||
      p->sax->cdataBlock == NULL)
    return -1;
  xmlSAXHandlerPtr sax = p->sax;
  st->pctxt = p;
  st->plug = p->userData;
  st->orig_start = sax->startElementNs;
  st->orig_end = sax->endElementNs;
  st->orig_chars = sax->characters;
  st->orig_cdata = sax->cdataBlock;
  sax->startElementNs = w_start;
  sax->endElementNs = w_end;
  sax->characters = w_chars;
  sax->ignorableWhitespace = w_chars;
  sax->cdataBlock = w_cdata;
  sax->comment = on_comment;
  sax->processingInstruction = on_pi;
  sax->entityDecl = on_entity_decl;
  sax->internalSubset = on_internal_subset;
  /* libxml2's parser refuses names and attribute values over its own
   * limits unless XML_PARSE_HUGE is set; the bridge measures them only
   * where its limits differ (measuring costs a strlen per name). */
  if (st->limits.max_text > XML_MAX_TEXT_LENGTH ||
      st->limits.max_name > XML_MAX_NAME_LENGTH)
    p->options |= XML_PARSE_HUGE;
  st->check_markup = st->limits.max_text != XML_MAX_TEXT_LENGTH ||
                     st->limits.max_name != XML_MAX_NAME_LENGTH;
  return 0;
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type,
                           const xmlChar *publicId, const xmlChar *systemId,
                           xmlChar *content) {
  (void)ctx; (void)type; (void)publicId; (void)systemId; (void)content;
  struct mw_vstate *st = tls_validation;
  int line, col;
  char msg[512];
  current_pos(st, &line, &col);
  snprintf(msg, sizeof msg,
           "DTD entity declaration \"%.200s\" refused: Meldeweg does not "
           "expand DTD entities (protection against external entities and "
           "entity expansion)",
           name ? (const char *)name : "");
  emit(st, MW_KIND_SECURITY, XML_ERR_FATAL, XML_FROM_PARSER,
       XML_ERR_ENTITY_PROCESSING, line, col, msg);
  stop(st);
}

static void on_internal_subset(void *ctx, const xmlChar *name,
                               const xmlChar *ExternalID,
                               const xmlChar *SystemID) {
  (void)ctx; (void)name;
  struct mw_vstate *st = tls_validation;
  if (ExternalID == NULL && SystemID == NULL) return;
  int line, col;
  char msg[512];
  current_pos(st, &line, &col);
  snprintf(msg, sizeof msg,
           "external DTD subset \"%.300s\" refused: Meldeweg never loads "
           "external DTDs",
           SystemID ? (const char *)SystemID : (const char *)ExternalID);
  emit(st, MW_KIND_SECURITY, XML_ERR_FATAL, XML_FROM_PARSER,
       XML_ERR_EXT_SUBSET_NOT_FINISHED, line, col, msg);
  stop(st);
}

static void validity_error(void *ctx, xmlErrorPtr err) {
  struct mw_vstate *st = ctx;
  if (err == NULL) return;
  const char *msg = err->message ? err->message : "";
  if (err->domain == XML_FROM_SCHEMASV && st->depth > 0) {
    /* Report the start tag of the element concerned, as the tree-based
     * validator does; the parser may already be at its end tag. */
    struct mw_frame *f = &st->stack[st->depth - 1];
    emit(st, MW_KIND_VALIDITY, err->level, err->domain, err->code, f->line,
         f->col, msg);
    return;
  }
  int kind = err->domain == XML_FROM_SCHEMASV ? MW_KIND_VALIDITY
             : err->domain == XML_FROM_IO     ? MW_KIND_IO
                                              : MW_KIND_WELLFORMED;
  /* libxml2's own size limits, in words an operator can act on. */
  char clear[256];
  if (err->domain == XML_FROM_PARSER && err->code == XML_ERR_NAME_TOO_LONG) {
    snprintf(clear, sizeof clear,
             "name longer than %d bytes refused (the limit on names)",
             XML_MAX_NAME_LENGTH);
    msg = clear;
    kind = MW_KIND_SECURITY;
  } else if (err->domain == XML_FROM_PARSER && err->code == XML_ERR_INTERNAL_ERROR &&
             strstr(msg, "Huge input lookup") != NULL) {
    snprintf(clear, sizeof clear,
             "attribute value or markup longer than %d bytes refused (the "
             "limit on text nodes)",
             XML_MAX_TEXT_LENGTH);
    msg = clear;
    kind = MW_KIND_SECURITY;
  }
  emit(st, kind, err->level, err->domain, err->code, err->line, err->int2, msg);
}

/* The parser asks for 4,000 bytes at a time; reading the document in
 * 256 KiB blocks saves a call into Go and a system call per 4,000 bytes. */
#define MW_READ_BLOCK (256 * 1024)

static int read_cb(void *ctx, char *buf, int len) {
  struct mw_vstate *st = ctx;
  if (!st->plugged) {
    st->plugged = 1;
    if (plug(st) != 0) {
      st->plug_failed = 1;
      return -1;
    }
  }
  if (st->rpos == st->rlen) {
    if (st->reof) return 0;
    int n = meldewegRead(st->handle, st->rbuf, MW_READ_BLOCK);
    if (n <= 0) {
      st->reof = 1;
      return n;
    }
    st->rpos = 0;
    st->rlen = n;
  }
  int n = st->rlen - st->rpos;
  if (n > len) n = len;
  memcpy(buf, st->rbuf + st->rpos, (size_t)n);
  st->rpos += n;
  return n;
}

static int close_cb(void *ctx) {
  (void)ctx;
  return 0;
}

int mw_validate(xmlSchemaPtr schema, uintptr_t handle, struct mw_limits limits) {
  mw_init();
  if (strcmp(xmlParserVersion, MW_LIBXML2_VERSION) != 0) return MW_ERR_VERSION;
  struct mw_vstate st;
  memset(&st, 0, sizeof st);
  st.handle = handle;
  st.limits = limits;

  xmlSchemaValidCtxtPtr vctxt = xmlSchemaNewValidCtxt(schema);
  if (vctxt == NULL) return -1;
  st.vctxt = vctxt;
  st.priv = (mw_valid_ctxt *)vctxt;
  if (limits.max_ids > 0) {
    st.ids = xmlHashCreate(256);
    if (st.ids == NULL) {
      xmlSchemaFreeValidCtxt(vctxt);
      return -1;
    }
  }
  xmlSchemaSetValidStructuredErrors(vctxt, validity_error, &st);

  st.rbuf = malloc(MW_READ_BLOCK);
  if (st.rbuf == NULL) {
    xmlSchemaFreeValidCtxt(vctxt);
    free_ids(&st);
    return -1;
  }

  xmlStructuredErrorFunc old_serror = xmlStructuredError;
  void *old_sctx = xmlStructuredErrorContext;
  xmlSetStructuredErrorFunc(&st, validity_error);
  tls_validation = &st;

  int ret = -1;
  xmlParserInputBufferPtr input =
      xmlParserInputBufferCreateIO(read_cb, close_cb, &st, XML_CHAR_ENCODING_NONE);
  if (input != NULL) {
    ret = xmlSchemaValidateStream(vctxt, input, XML_CHAR_ENCODING_NONE, NULL, NULL);
  }
  if (st.plug_failed) ret = MW_ERR_PLUG;
  if (st.stopped && ret == 0) ret = 1;
  if (ret >= 0 && !st.stopped && !st.fatal && st.ids != NULL) check_refs(&st);

  tls_validation = NULL;
  xmlSetStructuredErrorFunc(old_sctx, old_serror);
  xmlSchemaFreeValidCtxt(vctxt);
  free_ids(&st);
  free(st.stack);
  free(st.path);
  free(st.text);
  free(st.rbuf);
  return ret;
}
