/* lower.h --- the bpf-fn lowering: shared structures of its passes.

   A bpf-fn body travels through small passes, one file each:

     parse.c    located s-expressions  -> AST (forms recognised, shapes checked)
     resolve.c  AST -> AST with every identifier bound (locals, ctx, maps,
                Scheme integers, inlines, macros expanded, struct and
                header accessors)
     types.c    AST -> AST with a type on every node (and type errors);
                map forms in types-map.c, CO-RE reads in types-core.c
     bounds.c   AST -> AST checked against the program kind (packet and
                tracing forms, return actions) with packet layers noted
     emit.c     AST -> BPF C text with #line directives and a line map,
                plus what the C needs beyond its text (maps, constants,
                record types, helper maps), gathered in struct lower

   The passes read the kernel only through the target descriptor
   (struct gebpf_target, target.c), which the driver (fn.c) fills before
   they run (its BTF before the types pass, once the body is resolved), and they change nothing outside struct lower: the driver
   acts on what they gathered afterwards (declaring ring-buffer control
   maps, noting record types for the readers).  fn.c's pass table lists
   them in order.

   The parse pass runs once, when the <bpf-fn> is made, which keeps its
   tree; every lowering (and %bpf-fn-maps) takes a deep copy, since the
   later passes change nodes in place, and resolves it then, against
   the module's bindings of that moment.  A bpf-fn program crosses from
   Scheme into C once when it is made (parse), once when it is declared
   (%bpf-fn-maps: copy, resolve), once when it is lowered
   (%bpf-fn-lower: copy, resolve, types, bounds, emit), then once each
   to build, load and attach per target.

   tree.c writes the tree between any two passes (nodes and the state
   struct lower keeps beside them) as an s-expression and reads it back,
   checked, so the driver can start at any pass from a tree a test
   printed or built.

   Nodes are allocated from the GC heap (scanned conservatively), so a
   lowering error that unwinds mid-pass leaks nothing.  Every node keeps
   the file, line and column Guile recorded for its form.  */
#ifndef GEBPF_LOWER_H
#define GEBPF_LOWER_H

#include "../gebpf.h"
#include "../kernel/kernel.h"

enum op
{
  /* leaves */
  OP_INT, OP_BOOL, OP_STR, OP_SYM, OP_LOCAL, OP_CTX, OP_MAPREF,
  /* binding and control */
  OP_LET, OP_LETSTAR, OP_BEGIN, OP_SET, OP_IF, OP_WHEN, OP_UNLESS, OP_COND,
  OP_CASE, OP_AND, OP_OR, OP_NOT, OP_DO_TIMES, OP_RETURN,
  /* arithmetic */
  OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_REM, OP_MIN, OP_MAX,
  OP_LOGAND, OP_LOGIOR, OP_LOGXOR, OP_LOGNOT, OP_ASH,
  OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_ZEROP,
  /* helpers */
  OP_CALL, OP_PID, OP_TGID, OP_TID, OP_UID, OP_GID, OP_CPU, OP_KTIME,
  OP_COMM, OP_PRANDOM,
  /* maps */
  OP_MAP_GET, OP_MAP_REF, OP_MAP_SET, OP_MAP_DELETE, OP_MAP_INC, OP_HIST,
  OP_LHIST,
  /* packets */
  OP_PROTO, OP_PKT_ETH, OP_PKT_IPV4, OP_PKT_IPV6, OP_PKT_TCP, OP_PKT_UDP,
  OP_PKT_ICMP, OP_FIELD, OP_IPV4_CONST, OP_IPV6_CONST, OP_FRAGP, OP_PKT_LEN,
  /* packet writes */
  OP_SET_FIELD, OP_XDP_ADJUST_HEAD, OP_XDP_ADJUST_TAIL, OP_REDIRECT,
  OP_REDIRECT_MAP, OP_CTX_FIELD, OP_REDIRECT_PEER, OP_PKT_VLAN,
  /* tracing */
  OP_ARG, OP_RETVAL, OP_CORE_READ, OP_CURRENT_TASK, OP_READ_USER_STR,
  OP_READ_KERNEL_STR, OP_PROBE, OP_USDT_ARG,
  /* events */
  OP_EMIT, OP_PERF_EMIT, OP_PRINTK,
  /* structs, parameters, stacks, reuse */
  OP_MAKE_STRUCT, OP_STRUCT_REF, OP_CONST, OP_STACK_ID, OP_INLINE_CALL,
  /* strings and memory of any type */
  OP_STRING_EQ, OP_STRING_PREFIX, OP_READ_USER, OP_READ_KERNEL,
  OP_KEYWORD,                   /* #:field in make-S, resolved away */
  OP_APPLY,                     /* (HEAD ARG ...) with HEAD not a form yet */
  OP_KSTACK, OP_USTACK,         /* (kstack), (ustack): stacks as map keys */
  OP_DEREF,                     /* the value a map-get pointer points at
                                   (made by types where one is wanted) */
  OP_CORE_CAST,                 /* (core-cast PTR 'STRUCT) */
  OP_FIB_LOOKUP,                /* (fib-lookup CTX IP) */
  OP_PKT_IFINDEX,               /* (packet-ifindex CTX) */
  OP_UNDER_CGROUP,              /* (under-cgroup? CGROUP-ARRAY INDEX) */
  OP_FIB_STATUS,                /* (fib-lookup-status CTX IP) */
  OP__COUNT
};

/* Value types of expressions.  */
enum ty
{
  TY_UNKNOWN, TY_INT, TY_BOOL, TY_STR, TY_VOID, TY_CTX, TY_MAP,
  TY_HDR,                       /* packet header pointer (nullable) */
  TY_IPV4, TY_IPV6, TY_MAC,
  TY_VALUE,                     /* a value of a gebpf_type (struct, string ...) */
  TY_VALPTR,                    /* pointer to a map value (nullable) */
  TY_KPTR,                      /* kernel pointer (core-read, current-task) */
  TY_NORETURN
};

enum hdr { H_NONE, H_ETH, H_IPV4, H_IPV6, H_TCP, H_UDP, H_ICMP };

struct node
{
  enum op op;
  SCM datum;                    /* the form as written (for errors, printing) */
  SCM file;                     /* string or #f */
  int line, col;                /* 1-based line, 0-based column; 0 = unknown */
  int64_t ival;                 /* OP_INT value (see uneg) */
  bool uneg;                    /* OP_INT: the literal was negative */
  bool quoted;                  /* OP_SYM written 'NAME */
  char *name;                   /* symbol, helper, field, struct ... */
  struct node **kid;
  int nkid;
  /* resolve */
  int slot;                     /* OP_LOCAL: local variable number */
  SCM ref;                      /* OP_MAPREF map; OP_INLINE_CALL inline */
  const struct gebpf_type *st;  /* struct type of make-S / S-field */
  int field;                    /* field index, header field index */
  /* types */
  enum ty ty;
  enum hdr hdr;                 /* TY_HDR and OP_FIELD: which header */
  const struct gebpf_type *vt;  /* TY_VALUE / TY_VALPTR: the value type */
  bool is_signed;
  int btf_id;                   /* TY_KPTR: BTF id of the pointed-to type */
  SCM stack;                    /* a stack id: (STACKMAP . MODE), else 0 */
  uint8_t addr6[16];            /* OP_IPV6_CONST */
};

/* The target descriptor: what the passes know of the running kernel,
   taken from the kernel model (../kernel/kernel.h: tracepoint formats,
   vmlinux BTF) by the driver before they run (target.c), or given by
   hand.  */
struct gebpf_target
{
  bool tp_known;                /* tp/ntp hold the target's tracepoints */
  int ntp;                      /* tracepoints matching the target */
  struct tp_format *tp;         /* GC memory */
  const struct btf *btf;        /* vmlinux BTF, or NULL: only for a body
                                   target.c's reads_kernel_types accepts,
                                   so a new use must be listed there */
};

/* One lowering: the bpf-fn, its context, and what the passes collect.  */
struct lower
{
  SCM fn;                       /* the <bpf-fn> */
  const char *fname;            /* its name (C identifier) */
  SCM module;                   /* where it was written: free identifiers */
  SCM ctx_name;                 /* symbol naming the context parameter */
  int kind;                     /* enum gebpf_prog_kind */
  const char *target;           /* attach target, for tracepoint fields */
  SCM constants;                /* alist of (const NAME) values, or #f */
  const char *license;          /* #:license, or NULL for "GPL" */
  /* #:instance-suffix, or NULL: appended to the names this lowering
     numbers (inline instances, array types), so that programs lowered
     apart can share one translation unit.  */
  const char *inst_suffix;
  struct node *body;            /* OP_BEGIN of the body */
  SCM strip_memo;               /* parse: located form -> plain datum */
  /* resolve */
  int nlocals;
  SCM *local_names;             /* symbol per slot (GC memory) */
  int local_cap;
  enum ty *local_ty;
  const struct gebpf_type **local_vt;
  enum hdr *local_hdr;
  bool *local_signed;
  int *local_btf;               /* TY_KPTR locals: BTF id pointed to */
  /* maps, structs, consts, inlines used (GC-managed lists, in order) */
  SCM maps;                     /* list of <bpf-map>, first use order */
  SCM consts;                   /* list of symbols */
  struct inline_inst *insts;    /* inline instances, in creation order */
  int ninsts;
  int macro_depth;
  int depth;
  /* bounds */
  unsigned packet_layers;       /* bit per enum hdr used */
  bool uses_vmlinux;
  SCM core_members;             /* ((BTF-STRUCT-ID . MEMBER-NAME) ...) read */
  bool uses_probe;
  SCM stack_locals;             /* alist: local slot -> its node's stack */
  /* the target descriptor, filled before the passes */
  struct gebpf_target tgt;
  /* emit: what the C needs beyond its text (newest first) */
  SCM emitted;                  /* ((<bpf-map> . TYPE-POINTER) ...) */
  SCM helper_maps;              /* ((ringbuf-control RING CTL-NAME) ...) */
  SCM c_text, line_map;         /* emit's output */
  /* The same C in parts, for several programs in one unit: an alist
     (includes (TEXT ...)) (declarations ((KEY . TEXT) ...)) (license
     . STRING) (definition . TEXT); KEY is what a declaration declares
     (a C identifier or "struct NAME").  */
  SCM c_parts;
};

/* Program kinds (enum gebpf_prog_kind, the context type, the section
   and the return convention) are the kernel model's: ../kernel/kernel.h.
   gebpf_prog_kinds names the kinds bpf-fn lowers.  */
bool gebpf_kind_is_packet (int kind);
bool gebpf_kind_is_tracing (int kind);

/* forms.c: the form table.  */
struct form
{
  const char *name;
  enum op op;
  int min, max;                 /* arity (arguments after the head); -1 = any */
  const char *usage;            /* for the Fix hint */
};
const struct form *gebpf_form_lookup (const char *name);
const char *gebpf_op_name (enum op op);

struct helper
{
  const char *name;             /* Scheme name after (call NAME ...) */
  const char *c;                /* C helper */
  int nargs;
};
const struct helper *gebpf_helper_lookup (const char *name);
const char *gebpf_helper_names (void);

struct keyword_const
{
  const char *name;
  long value;
};
bool gebpf_keyword_const (const char *name, long *value);

/* Header fields: HEADER-FIELD accessors.  */
struct hfield
{
  const char *name;             /* accessor, e.g. "ipv4-saddr" */
  enum hdr hdr;
  const char *c;                /* C member expression on the header ptr */
  int conv;                     /* 0 none, 16/32 ntoh, 'f' flag bit */
  enum ty ty;                   /* TY_INT, TY_IPV4, TY_IPV6, TY_MAC, TY_BOOL */
};
const struct hfield *gebpf_hfield_lookup (const char *name);
const struct hfield *gebpf_hfield (int index);
int gebpf_hfield_index (const struct hfield *f);

/* Header fields set-field! writes, by the kernel's member name.  */
enum sf_csum
{
  SF_NONE,                      /* no checksum covers it (Ethernet) */
  SF_COVERED,                   /* the header's own checksum covers it */
  SF_PSEUDO,                    /* that, and the L4 pseudo-header too */
  SF_RAW                        /* a checksum field: written as given */
};
struct sfield
{
  enum hdr hdr;
  const char *name;             /* kernel member name, e.g. "h_dest" */
  int off, size;                /* bytes from the header's start */
  int conv;                     /* 16/32 host to network order, 0 as is */
  enum ty ty;                   /* TY_INT, TY_IPV4, TY_IPV6, TY_MAC */
  enum sf_csum csum;
  unsigned mask;                /* a flag bit of the byte at off, or 0 */
};
/* The field NAME (with '-' read as '_') of header H, or NULL.  */
const struct sfield *gebpf_sfield_lookup (enum hdr h, const char *name);
const struct sfield *gebpf_sfield (int index);
int gebpf_sfield_index (const struct sfield *f);
/* The names set-field! knows for header H, space-separated.  */
const char *gebpf_sfield_names (enum hdr h, char *buf, size_t size);

/* A member of struct __sk_buff that ctx-field reads and set-field! of
   the context writes, with the kinds (bit per PK_ value) allowed to.  */
struct ctxfield
{
  const char *name;
  unsigned read, write;
  bool be16;                    /* network order in the context */
};
/* The field NAME (with '-' read as '_'), or NULL.  */
const struct ctxfield *gebpf_ctxfield_lookup (const char *name);
const struct ctxfield *gebpf_ctxfield (int index);   /* NULL past the end */
int gebpf_ctxfield_index (const struct ctxfield *f);
const char *gebpf_ctxfield_names (unsigned kind_bit, bool write, char *buf,
                                  size_t size);

/* Return actions by kind.  */
bool gebpf_action_value (int kind, const char *name, long *value);
long gebpf_default_return (int kind);

/* An instance of a define-bpf-inline for one signature of argument types:
   emitted as one static __always_inline C function.  */
struct inline_inst
{
  SCM obj;                      /* the inline (Scheme record) */
  char *cname;                  /* C function name */
  int nparams;
  int *slots;                   /* local slots of the parameters */
  enum ty *pty;
  const struct gebpf_type **pvt;
  enum hdr *phdr;
  struct node *body;            /* OP_BEGIN */
  enum ty rty;
  const struct gebpf_type *rvt;
  enum hdr rhdr;
  bool typing;                  /* being typed: a call now is circular */
  struct inline_inst *next;
};

/* The passes.  Each raises ebpf-lower-error on bad input.  */
struct node *gebpf_parse (struct lower *L, SCM located, SCM outer_file,
                          int outer_line, int outer_col);
void gebpf_resolve (struct lower *L);
/* Parse and resolve the body of inline OBJ with fresh parameter slots.  */
struct node *gebpf_resolve_inline (struct lower *L, SCM obj, struct node *call,
                                   int **slots, int *nparams);
void gebpf_types (struct lower *L);
void gebpf_bounds (struct lower *L);
/* target.c: fill L->tgt for L's kind and target from the running
   kernel; with FORMAT (a format file's text) use it as the one
   tracepoint's format instead of tracefs.  */
void gebpf_target_fill (struct lower *L, SCM format);
/* target.c: take vmlinux BTF into L->tgt if L's kind reads kernel types
   and its resolved body reaches them (run before the types pass), or,
   with ANY_BODY, whatever a hand-given tree reads.  */
void gebpf_target_fill_btf (struct lower *L, bool any_body);
/* How many lowerings of this process took vmlinux BTF (for tests).  */
unsigned long gebpf_target_btf_fills (void);
/* bounds.c: locate tracepoint field (arg ctx 'F) / (arg ctx N) in the
   tracepoint's format: offset, size, signedness, and whether it is an
   array or a __data_loc string (in n->slot).  */
void gebpf_locate_tp_arg (struct lower *L, struct node *n);
/* Emit C; *LINEMAP gets a vector indexed by line number (see emit.c).  */
SCM gebpf_emit (struct lower *L, SCM *linemap);
/* The C name of the control map of ring buffer C-NAME (see ringbuf.c).  */
#define GEBPF_RBCTL_PREFIX "gebpf_rbctl_"
/* Raise ebpf-validation-error for a target that cannot be a section name
   of L's kind (see emit.c).  */
void gebpf_check_target (struct lower *L);

/* Helpers shared by the passes.  */
struct node *gebpf_node (struct lower *L, enum op op, struct node *like);
SCM_NORETURN void gebpf_lower_error (struct lower *L, struct node *n,
                                     const char *fix, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));
/* tree.c: the tree between passes as data.  A deep copy of N (GC
   memory); the tree BODY of L, with L's state when BODY is L->body, as
   an s-expression; and its inverse: L->body and the state the passes
   before pass number FROM (1 resolve ... 4 emit) leave in L, read from
   TREE, checked, or an ebpf-lower-error naming the bad node.  */
struct node *gebpf_tree_copy (struct node *n);
SCM gebpf_tree_write (struct lower *L, struct node *body);
void gebpf_tree_read (struct lower *L, SCM tree, int from);   /* tree-read.c */
/* The names of enum ty and enum hdr in a written tree.  */
#define GEBPF_NTY (TY_NORETURN + 1)
#define GEBPF_NHDR (H_ICMP + 1)
extern const char *const gebpf_tree_ty_names[GEBPF_NTY];
extern const char *const gebpf_tree_hdr_names[GEBPF_NHDR];
/* The expression type a value of gebpf type T has in a body.  */
enum ty gebpf_value_ty (const struct gebpf_type *t);
/* "an integer", "a map", ...: a type named in an error message.  */
const char *gebpf_tyname (enum ty t);
/* The type pass on (core-read ...), in types-core.c.  */
void gebpf_type_core_read (struct lower *L, struct node *n);
/* types-core.c: the BTF id of the struct or union that argument POS of
   L's BTF-typed target (tp-btf, raw-tracepoint, fentry, fexit, lsm)
   points at, or 0.  */
int gebpf_arg_btf_struct (struct lower *L, long pos);
/* types-core.c: the size in bytes (1..8) of argument POS of L's
   BTF-typed target when BTF types it as an integer or enum, setting
   *IS_SIGNED from BTF; 0 otherwise.  */
int gebpf_arg_btf_int (struct lower *L, long pos, bool *is_signed);
/* Shared by the type pass's files: types.c (the walk), types-map.c
   (forms that name a map).  */
static inline bool
gebpf_intlike (enum ty t)
{
  return t == TY_INT || t == TY_BOOL;
}
/* Whether S is a node's stack, (STACKMAP . MODE): the value came from
   stack-id, (kstack) or (ustack).  */
static inline bool
gebpf_is_stack (SCM s)
{
  return SCM_UNPACK (s) != 0 && scm_is_pair (s);
}
/* Where a value is wanted and N is a map-get pointer, make N the value
   it points at (zero when it is null), in place.  */
void gebpf_deref (struct node *n);
/* Raise unless N is an integer (WHAT names the form).  */
void gebpf_want_int (struct lower *L, struct node *n, const char *what);
/* Raise unless N can be stored where a T is expected (a map's key or
   value, a struct field; WHAT names it); literals checked for range.  */
void gebpf_check_fits (struct lower *L, struct node *n,
                       const struct gebpf_type *t, const char *what);
/* N has the expression type of a value of gebpf type T.  */
void gebpf_set_value_ty (struct node *n, const struct gebpf_type *t);
/* The map N names directly (FORM names the form), or raise.  */
struct gebpf_map *gebpf_want_map (struct lower *L, struct node *n,
                                  const char *form);
/* The type rules of a form naming a map, its kids typed.  */
void gebpf_type_map_form (struct lower *L, struct node *n);
extern SCM gebpf_loc_marker;

/* Forms nested deeper than this are a lowering error.  clang refuses
   more than 256 nested parentheses (and, counted apart, braces); the
   generated C nests at most three parentheses per form level (a
   comparison: ((A) == (B))), plus a few for the function, so a body that
   lowers also compiles.  */
#define LOWER_MAX_DEPTH 64

#endif
