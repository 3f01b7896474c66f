/* map.h --- the C side of <bpf-map>, shared by map.c (declaration,
   creation, pinning), map-io.c (element and whole-map I/O), btf.c and
   the files that reuse map fds (the loader, the readers).  Private.  */
#ifndef GEBPF_MAP_H
#define GEBPF_MAP_H

#include "gebpf.h"
#include "kernel/kernel.h"

/* The kernel's ENOTSUPP (not in user-space errno.h).  */
#define ENOTSUPP_ERRNO 524

struct gebpf_map
{
  char *name;                   /* kebab spelling */
  char *cname;                  /* C identifier */
  const struct gebpf_map_kind *kind;
  unsigned int map_type;
  uint32_t key_size, value_size, max_entries, map_flags;
  struct gebpf_type *key, *value;
  struct gebpf_type *record;    /* ringbuf/perf record type, or NULL */
  bool hist_keyed;              /* keyed histogram: key is {KEY, u32 slot} */
  struct gebpf_type *hist_key;
  char *pin_path;
  char *doc;
  int fd;                       /* -1 until created */
  bool closed;
};

struct gebpf_map_btf
{
  int fd;
  uint32_t key_id, value_id;
};

/* Buckets 0..63 of the log2 histogram, and 64 for negative values (as
   signed 64-bit: gebpf_log2_bucket puts them there by itself).  */
#define GEBPF_HIST_BUCKETS 65

/* The map declared under NAME (string or symbol), NAME itself when it is
   a map, else #f.  */
SCM gebpf_map_lookup (SCM name);
/* The map argument OBJ (object or name): its struct, and the object in
   *OUT.  One type test on the fast path.  */
struct gebpf_map *gebpf_map_arg (SCM obj, SCM *out, const char *subr,
                                 int pos);
/* The fd of map M (object OBJ), the kernel map created on first use.  */
#define GEBPF_MAP_FD(m, obj, subr) \
  ((m)->fd >= 0 ? (m)->fd : gebpf_map_ensure ((obj), (subr)))

/* Entries always exist and cannot be deleted (a keyed histogram is a
   hash even though an unkeyed one is an array).  */
static inline bool
gebpf_map_is_array (const struct gebpf_map *m)
{
  return (m->kind->flags & K_ARRAY) && !m->hist_keyed;
}

bool gebpf_map_same_shape (const struct gebpf_map *a,
                           const struct gebpf_map *b);
bool gebpf_map_percpu (const struct gebpf_map *m);
size_t gebpf_map_value_stride (const struct gebpf_map *m);
size_t gebpf_map_value_bufsize (const struct gebpf_map *m);
void gebpf_map_encode_key (struct gebpf_map *m, SCM key, uint8_t *buf,
                           const char *subr);
SCM gebpf_map_decode_key (struct gebpf_map *m, const uint8_t *buf);
void gebpf_map_encode_value (SCM obj, struct gebpf_map *m, SCM v,
                             uint8_t *buf, const char *subr);
SCM gebpf_map_decode_value (struct gebpf_map *m, const uint8_t *buf);
SCM gebpf_map_wrap_fd (int fd, const char *subr, const char *path);

/* stacks.c: the stack-trace map (kstack) and (ustack) record into
   (declared on first use), and the note that programs key map M by
   stacks, STACK being (STACKMAP . MODE).  */
SCM gebpf_stacks_map (void);
void gebpf_stack_key_note (const struct gebpf_map *m, SCM stack);

/* btf.c: BTF for the maps we create, and types from a pinned map's BTF.  */
int gebpf_btf_for_map (const struct gebpf_type *key,
                       const struct gebpf_type *value,
                       struct gebpf_map_btf *out);
void gebpf_btf_types_for_map (uint32_t btf_id, uint32_t key_id,
                              uint32_t value_id, struct gebpf_type **key,
                              struct gebpf_type **value);

#endif
