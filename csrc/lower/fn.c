/* fn.c --- <bpf-fn>: program bodies written in Scheme, and the driver of
   the lowering passes (lower.h).  The (ebpf fn) macro records the body
   with source locations; this file keeps it, checks its shape at once
   (the parse pass), and runs the passes when a program of a known kind
   is built.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "lower.h"
#include "../map.h"

static SCM fn_type;

/* slot 0: #(NAME PARAMS BODY MODULE FILE LINE COL); slot 1: the AST the
   parse pass made of BODY when the bpf-fn was made, never changed (each
   lowering works on a copy).  */
static SCM
fn_data (SCM fn, const char *subr)
{
  if (!GEBPF_IS (fn, fn_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass a bpf-fn made with (bpf-fn NAME (CTX) BODY ...)",
                 "%s is not a bpf-fn", gebpf_repr (fn));
  return SCM_PACK ((scm_t_bits) scm_foreign_object_ref (fn, 0));
}

struct node *
gebpf_node (struct lower *L, enum op op, struct node *like)
{
  struct node *n = scm_gc_malloc (sizeof *n, "bpf-node");
  memset (n, 0, sizeof *n);
  n->op = op;
  n->datum = like ? like->datum : SCM_BOOL_F;
  n->file = like ? like->file : SCM_BOOL_F;
  n->line = like ? like->line : 0;
  n->col = like ? like->col : 0;
  n->slot = -1;
  n->ref = SCM_BOOL_F;
  n->field = -1;
  return n;
}

void
gebpf_lower_error (struct lower *L, struct node *n, const char *fix,
                   const char *fmt, ...)
{
  char *what = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&what, fmt, ap) < 0)
    what = NULL;
  va_end (ap);
  char *w = scm_gc_strdup (what ? what : "lowering error", "what");
  free (what);
  char *file = NULL;
  if (n && scm_is_string (n->file))
    file = scm_to_utf8_string (n->file);
  char loc[512];
  if (n && n->line > 0 && file)
    snprintf (loc, sizeof loc, "%s:%d:%d", file, n->line, n->col);
  else if (n && n->line > 0)
    /* Typed at the REPL or read from a string: no file to name.  */
    snprintf (loc, sizeof loc, "input line %d, column %d", n->line, n->col);
  else
    snprintf (loc, sizeof loc, "<unknown location>");
  free (file);
  SCM form = n ? n->datum : SCM_BOOL_F;
  char *ftext = gebpf_repr (form);
  /* parse.c's first walk reports circular or too deep data still
     located: the details then carry its bounded text, never the data,
     which no printer could print.  */
  if (scm_is_vector (form) && scm_c_vector_length (form) == 5
      && scm_is_eq (scm_c_vector_ref (form, 0), gebpf_loc_marker))
    form = scm_from_utf8_string (ftext);
  SCM details = scm_list_n
    (scm_cons (scm_from_utf8_symbol ("form"), form),
     scm_cons (scm_from_utf8_symbol ("bpf-fn"),
               scm_from_utf8_string (L->fname)),
     scm_cons (scm_from_utf8_symbol ("file"), n ? n->file : SCM_BOOL_F),
     scm_cons (scm_from_utf8_symbol ("line"),
               n && n->line ? scm_from_int (n->line) : SCM_BOOL_F),
     scm_cons (scm_from_utf8_symbol ("column"),
               n && n->line ? scm_from_int (n->col) : SCM_BOOL_F),
     SCM_UNDEFINED);
  if (scm_is_false (form))
    gebpf_error_details (gebpf_k_lower, "bpf-fn", details, fix,
                         "bpf-fn %s: %s: %s", L->fname, loc, w);
  gebpf_error_details (gebpf_k_lower, "bpf-fn", details, fix,
                       "bpf-fn %s: %s: %s in %s", L->fname, loc, w, ftext);
}

/* ------------------------------------------------------------------ */

static void
lower_init (struct lower *L, SCM fn, const char *subr)
{
  SCM d = fn_data (fn, subr);
  memset (L, 0, sizeof *L);
  L->fn = fn;
  char *name = scm_to_utf8_string (scm_c_vector_ref (d, 0));
  L->fname = scm_gc_strdup (name, "fname");
  free (name);
  L->module = scm_c_vector_ref (d, 3);
  SCM params = scm_c_vector_ref (d, 1);
  L->ctx_name = scm_is_pair (params) ? SCM_CAR (params) : SCM_BOOL_F;
  L->kind = PK_NONE;
  L->constants = SCM_BOOL_F;
  L->maps = L->consts = SCM_EOL;
  L->core_members = SCM_EOL;
  L->stack_locals = SCM_EOL;
  L->emitted = L->helper_maps = SCM_EOL;
  L->c_text = L->line_map = SCM_BOOL_F;
}

/* The parse pass: a copy of the tree kept when the bpf-fn was made, so
   the body is parsed once however often it is lowered.  The later
   passes change nodes in place; the copy keeps the kept tree intact.  */
static void
pass_parse (struct lower *L)
{
  fn_data (L->fn, "bpf-fn");
  L->body = gebpf_tree_copy (scm_foreign_object_ref (L->fn, 1));
}

static void
pass_emit (struct lower *L)
{
  L->c_text = gebpf_emit (L, &L->line_map);
}

/* The pipeline, in order.  Each pass reads and extends struct lower
   alone; #:pass NAME stops after the pass of that name.  */
static const struct pass
{
  const char *name;
  void (*run) (struct lower *L);
} passes[] = {
  {"parse", pass_parse},
  {"resolve", gebpf_resolve},
  {"types", gebpf_types},
  {"bounds", gebpf_bounds},
  {"emit", pass_emit},
};
#define NPASSES ((int) (sizeof passes / sizeof passes[0]))

/* The index of the pass named by symbol PASS; raise for an unknown one.  */
static int
pass_index (SCM pass, const char *subr)
{
  for (int i = 0; i < NPASSES; i++)
    if (scm_is_eq (pass, scm_from_utf8_symbol (passes[i].name)))
      return i;
  gebpf_error (gebpf_k_validation, subr, 0,
               "use #:pass 'parse, 'resolve, 'types, 'bounds or 'emit",
               "unknown pass %s", gebpf_repr (pass));
}

/* What the passes gathered, as the result record (an alist).  */
static SCM
lowering_result (struct lower *L)
{
  /* In the order the C declares them: the emitter writes control maps
     while it lowers the body, the body's maps after it.  */
  SCM maps = SCM_EOL;
  SCM helpers = scm_reverse (L->helper_maps);
  for (SCM l = helpers; scm_is_pair (l); l = SCM_CDR (l))
    {
      /* A ring buffer's control map: a two-slot per-CPU array.  */
      SCM ctl = scm_caddr (SCM_CAR (l));
      maps = scm_cons (scm_list_3 (ctl, ctl,
                                   scm_from_utf8_string
                                   (libbpf_bpf_map_type_str
                                    (BPF_MAP_TYPE_PERCPU_ARRAY))), maps);
    }
  for (SCM l = scm_reverse (L->maps); scm_is_pair (l); l = SCM_CDR (l))
    {
      struct gebpf_map *m = scm_foreign_object_ref (SCM_CAR (l), 0);
      const char *t = libbpf_bpf_map_type_str (m->map_type);
      maps = scm_cons (scm_list_3 (scm_from_utf8_string (m->name),
                                   scm_from_utf8_string (m->cname),
                                   t ? scm_from_utf8_string (t) : SCM_BOOL_F),
                       maps);
    }
  SCM consts = SCM_EOL;
  for (SCM l = scm_reverse (L->consts); scm_is_pair (l); l = SCM_CDR (l))
    {
      char *c = gebpf_c_ident (SCM_CAR (l), "bpf-fn", "const name");
      consts = scm_cons (scm_from_utf8_string (c), consts);
      free (c);
    }
  SCM records = SCM_EOL;
  for (SCM l = scm_reverse (L->emitted); scm_is_pair (l); l = SCM_CDR (l))
    {
      struct gebpf_map *m = scm_foreign_object_ref (SCM_CAAR (l), 0);
      const struct gebpf_type *t = scm_to_pointer (SCM_CDAR (l));
      SCM name = scm_from_utf8_string (m->name);
      if (scm_is_false (scm_assoc (name, records)))
        records = scm_acons (name, t->spec, records);
    }
  SCM hm = SCM_EOL;
  for (SCM l = helpers; scm_is_pair (l); l = SCM_CDR (l))
    {
      struct gebpf_map *m = scm_foreign_object_ref (scm_cadr (SCM_CAR (l)), 0);
      hm = scm_cons (scm_list_3 (SCM_CAAR (l), scm_from_utf8_string (m->name),
                                 scm_caddr (SCM_CAR (l))), hm);
    }
  /* The C in parts (includes, declarations, license, definition) after
     the result's own fields.  */
  return scm_append
    (scm_list_2
     (scm_list_n
      (scm_cons (scm_from_utf8_symbol ("c"), L->c_text),
        scm_cons (scm_from_utf8_symbol ("line-map"), L->line_map),
        scm_cons (scm_from_utf8_symbol ("function"),
                  scm_from_utf8_string (L->fname)),
        scm_cons (scm_from_utf8_symbol ("maps"), scm_reverse (maps)),
        scm_cons (scm_from_utf8_symbol ("constants"), scm_reverse (consts)),
        scm_cons (scm_from_utf8_symbol ("record-types"), scm_reverse (records)),
        scm_cons (scm_from_utf8_symbol ("helper-maps"), scm_reverse (hm)),
        SCM_UNDEFINED), L->c_parts));
}

/* #:instance-suffix goes into C identifiers: 1 to 16 letters, digits
   and _, nothing else.  */
static const char *
inst_suffix_arg (SCM suffix, const char *fname)
{
  char *t = scm_is_string (suffix) ? scm_to_utf8_string (suffix) : NULL;
  size_t n = t ? strlen (t) : 0;
  bool ok = n >= 1 && n <= 16;
  for (size_t i = 0; ok && i < n; i++)
    ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z')
      || (t[i] >= '0' && t[i] <= '9') || t[i] == '_';
  if (!ok)
    {
      free (t);
      gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
                   "give #:instance-suffix 1 to 16 letters, digits or _, "
                   "e.g. \"_p1\"",
                   "bpf-fn %s: invalid #:instance-suffix %s", fname,
                   gebpf_repr (suffix));
    }
  const char *g = scm_gc_strdup (t, "suffix");
  free (t);
  return g;
}

/* After the passes: do what they only gathered.  The readers learn the
   type each emit! writes, and each ring buffer gets its control map
   (declared through Scheme, once per ring).  */
extern const char *gebpf_ringbuf_emit_note (SCM map,
                                            const struct gebpf_type *t);
static void
apply_effects (struct lower *L)
{
  for (SCM l = scm_reverse (L->emitted); scm_is_pair (l); l = SCM_CDR (l))
    gebpf_ringbuf_emit_note (SCM_CAAR (l), scm_to_pointer (SCM_CDAR (l)));
}

SCM_KEYWORD (kw_kind, "kind");
SCM_KEYWORD (kw_target, "target");
SCM_KEYWORD (kw_constants, "constants");
SCM_KEYWORD (kw_license, "license");
SCM_KEYWORD (kw_pass, "pass");
SCM_KEYWORD (kw_tp_format, "tracepoint-format");
SCM_KEYWORD (kw_inst_suffix, "instance-suffix");
SCM_KEYWORD (kw_ast, "ast");
SCM_KEYWORD (kw_from, "from");

#define FUNC_NAME s_scm_make_bpf_fn
SCM_DEFINE_STATIC (scm_make_bpf_fn, "%make-bpf-fn", 7, 0, 0,
                   (SCM name, SCM params, SCM body, SCM module, SCM file,
                    SCM line, SCM col),
                   "Make a @code{<bpf-fn>} from its @var{name}, parameter "
                   "list @var{params} (one symbol: the context), located "
                   "@var{body}, the @var{module} it was written in, and the "
                   "location of the form.  The body's shape is checked at "
                   "once.  Raises @code{ebpf-lower-error} for a malformed "
                   "body, @code{ebpf-validation-error} for a bad name.")
{
  char *cname = gebpf_c_ident (name, "bpf-fn", "bpf-fn name");
  SCM sname = scm_from_utf8_string (cname);
  free (cname);
  if (scm_ilength (params) != 1 || !scm_is_symbol (SCM_CAR (params)))
    gebpf_error (gebpf_k_lower, "bpf-fn", 0,
                 "write (bpf-fn NAME (CTX) BODY ...) with one parameter",
                 "bpf-fn %s: the parameter list %s must name the context",
                 gebpf_str (sname), gebpf_repr (params));
  if (!scm_is_string (file))
    file = SCM_BOOL_F;
  SCM d = scm_vector (scm_list_n (sname, params, body, module, file,
                                  scm_is_integer (line) ? line : scm_from_int (0),
                                  scm_is_integer (col) ? col : scm_from_int (0),
                                  SCM_UNDEFINED));
  SCM fn = scm_make_foreign_object_2 (fn_type, (void *) SCM_UNPACK (d), NULL);
  struct lower L;
  lower_init (&L, fn, FUNC_NAME);
  struct node *ast = gebpf_parse (&L, body, file,
                                  scm_to_int (scm_c_vector_ref (d, 5)),
                                  scm_to_int (scm_c_vector_ref (d, 6)));
  scm_foreign_object_set_x (fn, 1, ast);
  return fn;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_fn_p
SCM_DEFINE_STATIC (scm_bpf_fn_p, "bpf-fn?", 1, 0, 0, (SCM obj),
                   "Return @code{#t} if @var{obj} is a @code{<bpf-fn>}.")
{
  return scm_from_bool (GEBPF_IS (obj, fn_type));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_fn_info
SCM_DEFINE_STATIC (scm_bpf_fn_info, "%bpf-fn-info", 1, 0, 0, (SCM fn),
                   "Return the vector #(NAME PARAMS BODY MODULE FILE LINE "
                   "COL) of @var{fn}.")
{
  return fn_data (fn, FUNC_NAME);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_fn_lower
SCM_DEFINE_STATIC (scm_bpf_fn_lower, "%bpf-fn-lower", 1, 0, 1,
                   (SCM fn, SCM rest),
                   "Lower @var{fn} for a program of @code{#:kind} (a symbol) "
                   "attached to @code{#:target}, with @code{#:constants} and "
                   "@code{#:license} (default @code{\"GPL\"}).  "
                   "@code{#:tracepoint-format}, the text of a tracepoint "
                   "format file, stands for the target's format in tracefs.  "
                   "With @code{#:pass} @code{parse}, @code{resolve}, "
                   "@code{types} or @code{bounds}, return the tree after that "
                   "pass as an s-expression; otherwise (@code{emit}) return "
                   "the result alist (@code{c}, @code{line-map}, "
                   "@code{function}, @code{maps}, @code{constants}, "
                   "@code{record-types}, @code{helper-maps}, and the C in "
                   "parts: @code{includes}, @code{declarations}, "
                   "@code{license}, @code{definition}).  "
                   "@code{#:instance-suffix} (letters, digits, _) is "
                   "appended to the names the lowering numbers.  With "
                   "@code{#:ast}, a tree as a pass returned it, and "
                   "@code{#:from}, the pass to start at (@code{resolve}, "
                   "@code{types}, @code{bounds} or @code{emit}), run the "
                   "passes from there on that tree instead of @var{fn}'s "
                   "body.  Raises @code{ebpf-lower-error}, also for an "
                   "ill-formed tree.")
{
  SCM kind = SCM_UNDEFINED, target = SCM_UNDEFINED, constants = SCM_UNDEFINED,
    pass = SCM_UNDEFINED, license = SCM_UNDEFINED, format = SCM_UNDEFINED,
    suffix = SCM_UNDEFINED, ast = SCM_UNDEFINED, from = SCM_UNDEFINED;
  scm_c_bind_keyword_arguments (FUNC_NAME, rest, 0, kw_kind, &kind,
                                kw_target, &target, kw_constants, &constants,
                                kw_pass, &pass, kw_license, &license,
                                kw_tp_format, &format,
                                kw_inst_suffix, &suffix, kw_ast, &ast,
                                kw_from, &from, SCM_UNDEFINED);
  struct lower L;
  lower_init (&L, fn, FUNC_NAME);
  int last = SCM_UNBNDP (pass) || scm_is_false (pass) ? NPASSES - 1
    : pass_index (pass, FUNC_NAME);
  bool given = !SCM_UNBNDP (ast) && scm_is_true (ast);
  int first = 0;
  if (!SCM_UNBNDP (from) && scm_is_true (from))
    first = pass_index (from, FUNC_NAME);
  if (given != (first > 0))
    gebpf_error (gebpf_k_validation, "bpf-fn-lower", 0,
                 "give a tree with #:ast and the pass it goes to with #:from, "
                 "e.g. #:ast (bpf-fn-ast fn #:pass 'resolve) #:from 'types",
                 given ? "#:ast needs #:from 'resolve, 'types, 'bounds or "
                 "'emit" : "#:from %s needs a tree (#:ast)", gebpf_repr (from));
  if (first > last)
    gebpf_error (gebpf_k_validation, "bpf-fn-lower", 0,
                 "stop at #:from's pass or a later one",
                 "#:pass %s comes before #:from %s", gebpf_repr (pass),
                 gebpf_repr (from));
  if (!SCM_UNBNDP (kind) && scm_is_true (kind))
    L.kind = gebpf_sym_lookup (gebpf_prog_kinds, kind, "bpf-fn->c",
                               "program kind");
  else if (last != 0)
    gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
                 "give #:kind, e.g. #:kind 'xdp",
                 "lowering bpf-fn %s needs a program kind", L.fname);
  if (!SCM_UNBNDP (target) && scm_is_string (target))
    {
      char *t = scm_to_utf8_string (target);
      L.target = scm_gc_strdup (t, "target");
      free (t);
      gebpf_check_target (&L);
    }
  if (!SCM_UNBNDP (constants))
    {
      if (scm_is_true (constants) && scm_ilength (constants) < 0)
        gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
                     "give #:constants as '((NAME . INTEGER) ...)",
                     "#:constants must be a proper list, not %s",
                     gebpf_repr (constants));
      L.constants = constants;
    }
  if (!SCM_UNBNDP (license) && scm_is_true (license))
    {
      if (!scm_is_string (license))
        gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
                     "write #:license \"GPL\"",
                     "bpf-fn %s: #:license %s is not a string", L.fname,
                     gebpf_repr (license));
      char *t = scm_to_utf8_string (license);
      L.license = scm_gc_strdup (t, "license");
      free (t);
    }
  if (!SCM_UNBNDP (suffix) && scm_is_true (suffix))
    L.inst_suffix = inst_suffix_arg (suffix, L.fname);
  if (!SCM_UNBNDP (format) && scm_is_true (format) && !scm_is_string (format))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give #:tracepoint-format the text of a format file",
                 "#:tracepoint-format %s is not a string", gebpf_repr (format));
  /* Everything the passes know of the kernel, read before they run.  */
  if (last > 0)
    gebpf_target_fill (&L, SCM_UNBNDP (format) ? SCM_BOOL_F : format);
  /* A tree given stands for what the passes before FIRST made.  It may
     hold BTF ids, which the reader checks against vmlinux BTF.  */
  if (given)
    {
      gebpf_target_fill_btf (&L, true);
      gebpf_tree_read (&L, ast, first);
    }
  for (int i = first; i <= last; i++)
    {
      /* vmlinux BTF, first read by the types pass, only for a body that
         reads kernel types: known once macros are expanded.  */
      if (passes[i].run == gebpf_types && !L.tgt.btf)
        gebpf_target_fill_btf (&L, false);
      passes[i].run (&L);
    }
  if (last < NPASSES - 1)
    return gebpf_tree_write (&L, L.body);
  apply_effects (&L);
  return lowering_result (&L);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_fn_maps
SCM_DEFINE_STATIC (scm_bpf_fn_maps, "%bpf-fn-maps", 1, 0, 1, (SCM fn, SCM rest),
                   "Return the maps @var{fn}'s body uses (resolving it for "
                   "@code{#:kind}).")
{
  SCM kind = SCM_UNDEFINED;
  scm_c_bind_keyword_arguments (FUNC_NAME, rest, 0, kw_kind, &kind,
                                SCM_UNDEFINED);
  struct lower L;
  lower_init (&L, fn, FUNC_NAME);
  L.kind = SCM_UNBNDP (kind) ? PK_XDP
    : gebpf_sym_lookup (gebpf_prog_kinds, kind, FUNC_NAME, "program kind");
  pass_parse (&L);
  gebpf_resolve (&L);
  return scm_reverse (L.maps);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_lower_btf_count
SCM_DEFINE_STATIC (scm_bpf_lower_btf_count, "%bpf-lower-btf-count", 0, 0, 0,
                   (void),
                   "Return how many lowerings of this process have taken "
                   "vmlinux BTF into their target descriptor: only a "
                   "tracing body that reads kernel types does.")
{
  return scm_from_ulong (gebpf_target_btf_fills ());
}
#undef FUNC_NAME

void
gebpf_init_lower (void)
{
  fn_type = scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-fn"),
                                          scm_list_2 (scm_from_utf8_symbol
                                                      ("data"),
                                                      scm_from_utf8_symbol
                                                      ("ast")), NULL);
  scm_c_define ("<bpf-fn>", fn_type);
  gebpf_loc_marker = scm_permanent_object (scm_make_symbol
                                           (scm_from_utf8_string
                                            ("bpf-located")));
  scm_c_define ("%bpf-loc-marker", gebpf_loc_marker);
#ifndef SCM_MAGIC_SNARFER
#include "fn.x"
#endif
}
