/* gebpf.h --- private declarations shared by the C core of guile-ebpf.
   Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.

   Nothing here is public API: the Scheme modules are.  Every non-static
   symbol starts with gebpf_.  */
#ifndef GEBPF_H
#define GEBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libguile.h>

/* --- util.c: primitives carry their docstring ---------------------------- */

/* Attach DOC to PROC as its 'documentation property, so that
   procedure-documentation and the REPL's ,describe show a primitive's
   docstring as they show a Scheme procedure's.  Returns PROC.  */
SCM gebpf_document (SCM proc, const char *doc);

/* SCM_DEFINE_STATIC as libguile's, except that the snarfed init code also
   attaches DOCSTRING: a primitive's docstring is written once, in C, and
   Guile sees it.  */
#undef SCM_DEFINE_STATIC
#define SCM_DEFINE_STATIC(FNAME, PRIMNAME, REQ, OPT, VAR, ARGLIST,         \
                          DOCSTRING)                                      \
  SCM_SNARF_HERE (static const char s_ ## FNAME[] = PRIMNAME;             \
                  static SCM FNAME ARGLIST)                               \
  SCM_SNARF_INIT (gebpf_document                                          \
                  (scm_c_define_gsubr (s_ ## FNAME, REQ, OPT, VAR,        \
                                       (scm_t_subr) FNAME), DOCSTRING);)  \
  SCM_SNARF_DOCS (primitive, FNAME, PRIMNAME, ARGLIST, REQ, OPT, VAR,     \
                  DOCSTRING)

/* --- error.c: the one error raiser ------------------------------------ */

/* Keys of the ebpf-error family (interned at init).  */
extern SCM gebpf_k_error, gebpf_k_validation, gebpf_k_map, gebpf_k_permission,
  gebpf_k_lower, gebpf_k_compile, gebpf_k_verifier, gebpf_k_attach;

/* Throw KEY with a message built from FMT, naming SUBR.  ERR, when not 0,
   is an errno: its name and text are appended and recorded.  FIX is the
   one-line hint, appended as "Fix: ...".  Never returns.  */
SCM_NORETURN void gebpf_error (SCM key, const char *subr, int err,
                               const char *fix, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

/* Same, with a long text (a verifier or clang log) kept beside the
   message under the 'log key of the details alist.  */
SCM_NORETURN void gebpf_error_log (SCM key, const char *subr, int err,
                                   const char *log, const char *fix,
                                   const char *fmt, ...)
  __attribute__ ((format (printf, 6, 7)));

/* Same, with DETAILS (an alist) as the details of the error.  */
SCM_NORETURN void gebpf_error_details (SCM key, const char *subr, SCM details,
                                       const char *fix, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

/* The errno of a permission problem gets its own key and hint.  */
SCM_NORETURN void gebpf_syscall_error (SCM key, const char *subr, int err,
                                       const char *what, const char *fix);

/* The name and text of errno ERR (sign ignored), also for libbpf's own
   codes (LIBBPF_ERRNO__*) and the kernel-internal ENOTSUPP (524) that
   strerror does not know.  The text may be written into BUF.  */
const char *gebpf_errno_name (int err);
const char *gebpf_errno_text (int err, char *buf, size_t size);

/* "between LO and HI", with bounds near a power of two written as one
   ("2^32-1", "-2^31"), in BUF.  Returns BUF.  */
const char *gebpf_range (char *buf, size_t size, int64_t lo, uint64_t hi);

/* A printable rendering of an SCM value, in GC-managed memory.  */
/* OBJ as `write' prints it, bounded: at most MAX bytes (cut on a
   character boundary, then "..."), nesting and list length limited, so
   circular or deep user data prints quickly.  gebpf_repr: MAX 1000.  */
char *gebpf_repr (SCM obj);
char *gebpf_repr_n (SCM obj, size_t max);
extern SCM gebpf_loc_marker;      /* lower/parse.c: marks located forms */

/* Fast exact-type test of a foreign object (SCM_IS_A_P goes through
   GOOPS and costs a Scheme call).  */
#define GEBPF_IS(x, type) \
  (SCM_STRUCTP (x) && scm_is_eq (SCM_STRUCT_VTABLE (x), (type)))

/* --- symbols and names ------------------------------------------------- */

struct gebpf_sym
{
  const char *name;
  long value;
};

/* Normalise a symbol, keyword, ":sym" symbol or string naming an
   enumerated value to a symbol without the colon.  */
SCM gebpf_enum_symbol (SCM v);
/* Look V up in TABLE (terminated by a NULL name); on failure raise an
   ebpf-validation-error listing the known names.  */
long gebpf_sym_lookup (const struct gebpf_sym *table, SCM v,
                       const char *subr, const char *what);
const char *gebpf_sym_name (const struct gebpf_sym *table, long value);
/* A malloc'ed C identifier for NAME (string or symbol) with '-' as '_';
   raises ebpf-validation-error unless it is [A-Za-z_][A-Za-z0-9_]*.  */
char *gebpf_c_ident (SCM name, const char *subr, const char *what);

/* GC-managed UTF-8 copies of a symbol's or a string's characters.  */
const char *gebpf_sym_str (SCM sym);
const char *gebpf_str (SCM str);

/* --- type.c: value types and their codecs ------------------------------ */

enum gebpf_tk
{
  GT_U8, GT_U16, GT_U32, GT_U64, GT_I8, GT_I16, GT_I32, GT_I64,
  GT_BOOL, GT_BE16, GT_BE32, GT_BE64, GT_IPV4, GT_IPV6, GT_MAC,
  GT_STRING, GT_BYTES, GT_ARRAY, GT_PREFIX, GT_STRUCT,
  GT_UINT,                      /* untyped 1/2/4/8 bytes: unsigned, native */
  GT_RAW                        /* untyped other sizes: bytevector */
};

struct gebpf_type;

struct gebpf_field
{
  char *name;                   /* Scheme spelling (kebab) */
  char *cname;                  /* C spelling (snake) */
  struct gebpf_type *type;
  size_t offset;
};

struct gebpf_type
{
  enum gebpf_tk kind;
  size_t size, align;
  size_t count;                 /* string/bytes/array length */
  struct gebpf_type *elem;      /* array element; prefix address type */
  char *name;                   /* struct name (kebab), NULL otherwise */
  char *cname;                  /* struct C name */
  size_t nfields;
  struct gebpf_field *fields;
  SCM rtd;                      /* record type of a struct (protected) */
  SCM spec;                     /* Scheme spelling (protected) */
  SCM object;                   /* the <bpf-type> foreign object */
};

extern SCM gebpf_type_type;     /* foreign object type <bpf-type> */

/* Parse a type spelling (symbol, list, <bpf-type>).  WHAT names the role
   in errors ("key type of map counts").  */
struct gebpf_type *gebpf_type_parse (SCM spec, const char *subr,
                                     const char *what);
/* The untyped integer/bytes type of SIZE bytes.  */
struct gebpf_type *gebpf_type_untyped (size_t size);
/* A bytevector type of SIZE bytes.  */
struct gebpf_type *gebpf_type_raw (size_t size);
struct gebpf_type *gebpf_type_base (enum gebpf_tk kind);
/* The role of a value being encoded, for error messages only: rendered
   "WHAT NAME of OF..." when an error is raised, never on the fast path.  */
struct gebpf_role
{
  const char *what;
  const char *name;
  const struct gebpf_role *of;
};
#define GEBPF_ROLE(w) (&(const struct gebpf_role) { (w), NULL, NULL })

/* Encode V into BUF (the type's size; callers zero it for padding).  */
void gebpf_encode (const struct gebpf_type *t, SCM v, uint8_t *buf,
                   const char *subr, const struct gebpf_role *role);
SCM gebpf_decode (const struct gebpf_type *t, const uint8_t *buf);
/* Write T's spelling into a printable C string (malloc'ed).  */
char *gebpf_type_string (const struct gebpf_type *t);
struct gebpf_type *gebpf_type_from_scm (SCM obj);
/* A struct type known only by its layout (from BTF): decodes to an alist.  */
struct gebpf_type *gebpf_type_anon_struct (const char *name, size_t n,
                                           char *const *names,
                                           struct gebpf_type *const *types,
                                           const size_t *offsets, size_t size,
                                           size_t align);
/* The defbpf-struct type registered under NAME, or NULL.  */
struct gebpf_type *gebpf_type_lookup_struct (const char *name);
/* The prefix length and address type for LPM keys.  */
bool gebpf_type_is_prefix_like (const struct gebpf_type *t);

/* --- map.c ------------------------------------------------------------- */

struct gebpf_map;
extern SCM gebpf_map_type;
struct gebpf_map *gebpf_map_from_scm (SCM obj, const char *subr, int pos);
/* Create the kernel map if it does not exist yet; return its fd.  */
int gebpf_map_ensure (SCM obj, const char *subr);

/* --- util.c ------------------------------------------------------------ */

int gebpf_nr_cpus (void);       /* possible CPUs, cached */
/* Walk the kernel's programs or maps: the fd of the next object after
   *ID (updating *ID; start at 0), or -1 when none is left.  NEXT and
   GET_FD are libbpf's bpf_*_get_next_id and bpf_*_get_fd_by_id.  */
int gebpf_next_kernel_object (int (*next) (uint32_t, uint32_t *),
                              int (*get_fd) (uint32_t), uint32_t *id,
                              SCM key, const char *subr, const char *what);
/* Make sure bpffs is mounted at /sys/fs/bpf (mounting it if we may).  */
int gebpf_ensure_bpffs (void);
/* Where tracefs is, vmlinux BTF and the capabilities: kernel/kernel.h.  */

/* --- sha256.c ----------------------------------------------------------- */

struct gebpf_sha256
{
  uint32_t h[8];
  uint64_t len;
  uint8_t buf[64];
  size_t fill;
};
void gebpf_sha256_init (struct gebpf_sha256 *c);
void gebpf_sha256_update (struct gebpf_sha256 *c, const void *data, size_t n);
void gebpf_sha256_final (struct gebpf_sha256 *c, uint8_t out[32]);
/* One-shot digest as 64 lowercase hex digits plus NUL into HEX.  */
void gebpf_sha256_hex (const void *data, size_t n, char hex[65]);

/* --- build.c: clang and the object cache -------------------------------- */

/* Build C text into a BPF object; return the cached object's path
   (malloc'ed).  Raises ebpf-compile-error with clang's diagnostics.  */
char *gebpf_build_c (const char *c_text, size_t len, const char *subr);
/* (vmlinux.c) The cache directory holding vmlinux.h for the running kernel
   (malloc'ed), generated from /sys/kernel/btf/vmlinux if needed.
   Raises ebpf-compile-error.  */
char *gebpf_vmlinux_dir (const char *subr);

/* --- program.c ------------------------------------------------------------ */

extern SCM gebpf_object_type;

/* --- uprobe.c: where uprobe and USDT targets land ----------------------- */

/* The file of LIB: a path, an executable in PATH, or a library in the
   dynamic linker's cache (GC memory).  Raises ebpf-attach-error, its
   message led by WHO when not NULL ("attaching PROGRAM").  */
const char *gebpf_uprobe_binary (const char *lib, const char *subr,
                                 const char *who);
/* The file offset of SYMBOL (SYM, SYM@VERSION, SYM@@VERSION or 0xOFFSET)
   in the ELF file PATH; of several versions, the default one.  Raises
   ebpf-attach-error naming the missing symbol or version.  */
size_t gebpf_uprobe_offset (const char *path, const char *symbol,
                            const char *subr, const char *who);
/* The functions PATH defines whose names match GLOB (fnmatch), sorted,
   each once, as a list of strings.  */
SCM gebpf_uprobe_symbols (const char *path, const char *glob,
                          const char *subr, const char *who);

/* init.c: take (and reset) what libbpf printed since the last take.  */
const char *gebpf_libbpf_log_take (void);

/* --- init functions, in registration order ------------------------------ */
/* The one symbol the shared library exports (built with
   -fvisibility=hidden): load-extension calls it by name.  */
__attribute__ ((visibility ("default"))) void gebpf_init (void);
void gebpf_init_error (void);
void gebpf_init_pin (void);
void gebpf_init_type (void);
void gebpf_init_map (void);
void gebpf_init_map_io (void);
void gebpf_init_features (void);
void gebpf_init_kernel (void);
void gebpf_init_build (void);
void gebpf_init_program (void);
void gebpf_init_object_info (void);
void gebpf_init_link (void);
void gebpf_init_attach (void);
void gebpf_init_bpffs (void);
void gebpf_init_ringbuf (void);
void gebpf_init_symbols (void);
void gebpf_init_stacks (void);
void gebpf_init_lower (void);

#endif
