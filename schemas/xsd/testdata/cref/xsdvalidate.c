/*
 * xsdvalidate: the C reference of "make bench" for "meldeweg validate".
 *
 * It does what a program using libxml2 directly does to validate a file
 * against an XSD in streaming mode, and nothing else: compile the schema,
 * then xmlSchemaValidateFile (libxml2's SAX validation, the engine under
 * Meldeweg's validator). Errors go to stderr, one line each.
 *
 *   cc -O2 -o xsdvalidate xsdvalidate.c $(pkg-config --cflags --libs libxml-2.0)
 *   xsdvalidate SCHEMA.xsd FILE.xml    # exit 0 valid, 1 invalid, 2 error
 */
#include <stdio.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

static void on_error(void *ctx, xmlErrorPtr err) {
  (void)ctx;
  fprintf(stderr, "%s:%d: %s", err->file ? err->file : "", err->line,
          err->message ? err->message : "\n");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: xsdvalidate SCHEMA.xsd FILE.xml\n");
    return 2;
  }
  xmlInitParser();
  xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(argv[1]);
  xmlSchemaPtr schema = pctxt ? xmlSchemaParse(pctxt) : NULL;
  if (schema == NULL) {
    fprintf(stderr, "%s: cannot compile the schema\n", argv[1]);
    return 2;
  }
  xmlSchemaValidCtxtPtr vctxt = xmlSchemaNewValidCtxt(schema);
  xmlSchemaSetValidStructuredErrors(vctxt, on_error, NULL);
  int ret = xmlSchemaValidateFile(vctxt, argv[2], 0);
  printf("%s: %s\n", argv[2], ret == 0 ? "valid" : ret > 0 ? "invalid" : "error");
  xmlSchemaFreeValidCtxt(vctxt);
  xmlSchemaFree(schema);
  xmlSchemaFreeParserCtxt(pctxt);
  return ret == 0 ? 0 : ret > 0 ? 1 : 2;
}
