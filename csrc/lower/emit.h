/* emit.h --- private interface between the files of the emit pass.

   The emit pass (pass 5, the AST to BPF C) is one pass in several files,
   one concern each: emit.c (the driver and expressions), emit-read.c
   (reads, strings, arguments), emit-packet.c (packet headers and
   writes), emit-map.c (map access, histograms), emit-decl.c (value
   types, maps, inlines, CO-RE types, section and license).  This header
   holds the state they share and the functions one file calls in
   another; nothing outside csrc/lower/emit*.c includes it.  */
#ifndef GEBPF_LOWER_EMIT_H
#define GEBPF_LOWER_EMIT_H

#include <stdarg.h>
#include <string.h>
#include "lower.h"
#include "../map.h"
#include "../buf.h"

struct emit
{
  struct lower *L;
  struct buf types, maps, consts, inlines, body;
  SCM typedefs;                 /* alist: type object -> C name (registered) */
  int ntypes;
  int tmp;                      /* counter for temporaries */
  int cur_line;                 /* last #line emitted */
  SCM linemap;                  /* alist: scm line -> string */
  bool in_inline;
  SCM marks;                    /* where each declaration starts, newest
                                   first: ((BUF KEY . OFFSET) ...) */
};

/* The C text grows in Guile's heap (buf.h): a lowering error can leave
   from anywhere without leaking it.  */
static inline void
bput (struct buf *b, const char *s, size_t n)
{
  gebpf_buf_add_gc (b, s, n);
}

static inline void
bs (struct buf *b, const char *s)
{
  bput (b, s, strlen (s));
}

static inline void bf (struct buf *b, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static inline void
bf (struct buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gebpf_buf_vprintf_gc (b, fmt, ap);
  va_end (ap);
}


/* Every identifier the user chose (map, struct, field, constant, inline)
   is written as u_NAME: no generated name and no name of the headers
   starts with u_, and no C keyword does, so none can collide -- a map
   named v0 or ctx, a field named int, a constant named return.  */
#define USER_PREFIX "u_"

static inline const char *
uid (const char *name)
{
  size_t n = strlen (name);
  char *s = scm_gc_malloc_pointerless (n + sizeof USER_PREFIX, "uid");
  memcpy (s, USER_PREFIX, sizeof USER_PREFIX - 1);
  memcpy (s + sizeof USER_PREFIX - 1, name, n + 1);
  return s;
}

/* emit.c: helpers, expressions  */
int gebpf_emit_tmp (struct emit *E);
void gebpf_emit_c_string (struct buf *b, const char *s);
void gebpf_emit_gpl_only (struct emit *E, struct node *n, const char *helper);
void gebpf_emit_ex_int (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_ex_to (struct emit *E, struct buf *b,
                       const struct gebpf_type *t, struct node *n);
void gebpf_emit_ex_from (struct emit *E, struct buf *b,
                         const struct gebpf_type *t, const char *lv);
const char *gebpf_emit_mapname (struct node *n);
struct gebpf_map *gebpf_emit_mapof (struct node *n);
void gebpf_emit_body_seq (struct emit *E, struct buf *b, struct node *seq,
                          int from, bool value);
void gebpf_emit_ex (struct emit *E, struct buf *b, struct node *n);

/* emit-read.c: reads, strings, arguments  */
void gebpf_emit_ex_core_fields (struct buf *b, struct node *n);
void gebpf_emit_ex_read (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_fill (struct emit *E, struct buf *b,
                      const struct gebpf_type *t, const char *lv,
                      struct node *n);
int gebpf_emit_materialize (struct emit *E, struct buf *b,
                            const struct gebpf_type *t, struct node *n);
void gebpf_emit_ex_read_typed (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_ex_string_test (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_ex_arg (struct emit *E, struct buf *b, struct node *n);
/* The address of tracepoint field N (an arg, a sys_exit retval) in the
   record: (char *)ctx + its offset.  */
void gebpf_emit_tp_addr (struct emit *E, struct buf *b, struct node *n);
/* Tracepoint field N as an integer: a load, or where its offset is the
   probe's (bounds.c), a read at the probe's offset.  */
void gebpf_emit_tp_int (struct emit *E, struct buf *b, struct node *n);

/* emit-packet.c: packet headers and writes  */
const char *gebpf_emit_packet_data (struct emit *E);
const char *gebpf_emit_packet_end (struct emit *E);
void gebpf_emit_ex_header (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_ex_field (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_ex_packet_write (struct emit *E, struct buf *b,
                                 struct node *n);

/* emit-map.c: map access and histograms  */
void gebpf_emit_ex_map_access (struct emit *E, struct buf *b, struct node *n);
void gebpf_emit_ex_hist (struct emit *E, struct buf *b, struct node *n);

/* emit-decl.c: the program's declarations  */
/* A declaration of KEY (what it declares) starts here in B, one of the
   declaration buffers: the parts of the result are cut at these marks.  */
void gebpf_emit_mark (struct emit *E, struct buf *b, const char *key);
SCM gebpf_emit_declarations (struct emit *E);
const char *gebpf_emit_tname (struct emit *E, const struct gebpf_type *t);
const char *gebpf_emit_ctype (struct emit *E, struct node *n);
void gebpf_emit_section_name (struct emit *E, char *out, size_t size);
void gebpf_emit_map (struct emit *E, struct gebpf_map *m);
void gebpf_emit_inline (struct emit *E, struct inline_inst *in);
void gebpf_emit_core_types (struct emit *E);
const char *gebpf_emit_license_of (struct lower *L);
const char *gebpf_emit_spdx_of (const char *lic);

#endif /* GEBPF_LOWER_EMIT_H */
