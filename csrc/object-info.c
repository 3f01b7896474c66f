/* object-info.c --- what the kernel says about loaded programs: a
   <bpf-object>'s metadata and kernel info, run-time statistics, and the
   listing of every program the kernel holds.

   These only read the kernel; loading (program.c) is the one place that
   changes it for an object, so the two are kept apart.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"
#include "object.h"

static int stats_fd = -1;

/* Run-time statistics are global in the kernel and counted only while
   someone holds the fd bpf_enable_stats returns.  They cost every run of
   every BPF program on the machine two clock reads (~60 ns here), so they
   are turned on only when asked for: by bpf-enable-stats!, or the first
   time a program's statistics are read; then held for the process.  */
void
gebpf_enable_stats (void)
{
  if (stats_fd < 0)
    stats_fd = bpf_enable_stats (BPF_STATS_RUN_TIME);
}

#define FUNC_NAME s_scm_bpf_enable_stats_x
SCM_DEFINE_STATIC (scm_bpf_enable_stats_x, "%bpf-enable-stats!", 1, 0, 0,
                   (SCM on),
                   "Turn the kernel's BPF run-time statistics on (@var{on} "
                   "true) or release this process's hold on them; return "
                   "whether they were on for this process.  Raises "
                   "@code{ebpf-permission-error} without privilege.")
{
  bool was = stats_fd >= 0;
  if (scm_is_true (on))
    {
      gebpf_enable_stats ();
      if (stats_fd < 0)
        gebpf_syscall_error (gebpf_k_error, FUNC_NAME, errno,
                             "enabling BPF run-time statistics",
                             "see the errno above");
    }
  else if (stats_fd >= 0)
    {
      close (stats_fd);
      stats_fd = -1;
    }
  return scm_from_bool (was);
}
#undef FUNC_NAME

static SCM
str_or_false (const char *s)
{
  return s ? scm_from_utf8_string (s) : SCM_BOOL_F;
}

#define FUNC_NAME s_scm_bpf_object_meta
SCM_DEFINE_STATIC (scm_bpf_object_meta, "%bpf-object-meta", 1, 0, 0,
                   (SCM obj),
                   "Return a vector #(NAME KIND FD ID PATH SECTION DIGEST "
                   "LOG CLOSED? ATTACH-TYPE TARGET MAPS) describing "
                   "@var{obj} without a system call (FD is @code{#f} once "
                   "closed).  Raises @code{ebpf-validation-error} if "
                   "@var{obj} is not a @code{<bpf-object>}.")
{
  struct gebpf_object *o = gebpf_object_any (obj, FUNC_NAME, 1);
  SCM v = scm_c_make_vector (12, SCM_BOOL_F);
  scm_c_vector_set_x (v, 0, scm_from_utf8_string (o->name));
  scm_c_vector_set_x (v, 1, scm_from_utf8_symbol (o->kind_name));
  scm_c_vector_set_x (v, 2, o->prog_fd >= 0 ? scm_from_int (o->prog_fd)
                      : SCM_BOOL_F);
  scm_c_vector_set_x (v, 3, scm_from_uint32 (o->id));
  scm_c_vector_set_x (v, 4, scm_from_utf8_string (o->path));
  scm_c_vector_set_x (v, 5, scm_from_utf8_string (o->section));
  scm_c_vector_set_x (v, 6, scm_from_utf8_string (o->digest));
  scm_c_vector_set_x (v, 7, str_or_false (o->log));
  scm_c_vector_set_x (v, 8, scm_from_bool (o->obj == NULL));
  const char *at = NULL;
  if (o->type == BPF_PROG_TYPE_CGROUP_SKB
      || o->type == BPF_PROG_TYPE_CGROUP_SOCK
      || o->type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
    at = gebpf_attach_type_name (o->attach_type);
  scm_c_vector_set_x (v, 9, at ? scm_from_utf8_symbol (at) : SCM_BOOL_F);
  scm_c_vector_set_x (v, 10, str_or_false (o->target));
  SCM used = SCM_PACK ((scm_t_bits) scm_foreign_object_ref (obj, 1));
  SCM names = SCM_EOL;
  for (SCM l = used; scm_is_pair (l); l = scm_cdr (l))
    {
      struct gebpf_map *m = scm_foreign_object_ref (scm_car (l), 0);
      if (m)
        names = scm_cons (scm_from_utf8_string (m->name), names);
    }
  scm_c_vector_set_x (v, 11, scm_reverse_x (names, SCM_EOL));
  return v;
}
#undef FUNC_NAME

const char *
gebpf_kind_name_of_type (enum bpf_prog_type t, int at, char *buf, size_t n)
{
  for (const struct gebpf_kind *k = gebpf_kinds; k->name; k++)
    if (k->type == t && (k->attach_type < 0 || k->attach_type == at))
      return k->name;
  const char *s = libbpf_bpf_prog_type_str (t);
  snprintf (buf, n, "%s", s ? s : "unknown");
  for (char *q = buf; *q; q++)
    if (*q == '_')
      *q = '-';
  return buf;
}

static SCM
tag_string (const unsigned char tag[8])
{
  char hex[17];
  for (int i = 0; i < 8; i++)
    snprintf (hex + 2 * i, 3, "%02x", tag[i]);
  return scm_from_utf8_string (hex);
}

#define SYM(s) scm_from_utf8_symbol (s)

/* The kernel's view of a loaded program, as an alist.  */
SCM
gebpf_prog_info_alist (const struct bpf_prog_info *info, const char *kind)
{
  return scm_list_n
    (scm_cons (SYM ("id"), scm_from_uint32 (info->id)),
     scm_cons (SYM ("name"), scm_from_utf8_string (info->name)),
     scm_cons (SYM ("kind"), SYM (kind)),
     scm_cons (SYM ("tag"), tag_string (info->tag)),
     scm_cons (SYM ("run-count"), scm_from_uint64 (info->run_cnt)),
     scm_cons (SYM ("run-time-ns"), scm_from_uint64 (info->run_time_ns)),
     scm_cons (SYM ("xlated-insns"),
               scm_from_uint32 (info->xlated_prog_len / 8)),
     scm_cons (SYM ("jited-bytes"), scm_from_uint32 (info->jited_prog_len)),
     scm_cons (SYM ("verified-insns"), scm_from_uint32 (info->verified_insns)),
     scm_cons (SYM ("map-count"), scm_from_uint32 (info->nr_map_ids)),
     scm_cons (SYM ("uid"), scm_from_uint32 (info->created_by_uid)),
     scm_cons (SYM ("gpl-compatible"), scm_from_bool (info->gpl_compatible)),
     SCM_UNDEFINED);
}

#define FUNC_NAME s_scm_bpf_object_info
SCM_DEFINE_STATIC (scm_bpf_object_info, "%bpf-object-info", 1, 0, 0,
                   (SCM obj),
                   "Return the kernel's statistics of the program of "
                   "@var{obj} as an alist: @code{id}, @code{name}, "
                   "@code{kind}, @code{tag}, @code{run-count}, "
                   "@code{run-time-ns} (counted since the first load of "
                   "this process), @code{xlated-insns}, @code{jited-bytes}, "
                   "@code{verified-insns}, @code{map-count}, @code{uid}, "
                   "@code{gpl-compatible} (the kernel's view of the license), "
                   "then @code{digest} (sha256 of the object file), "
                   "@code{path}, @code{section} and @code{maps} (the "
                   "declared maps it shares).  Raises @code{ebpf-error} if "
                   "@var{obj} is closed.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  gebpf_enable_stats ();
  struct bpf_prog_info info;
  __u32 len = sizeof info;
  memset (&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd (o->prog_fd, &info, &len) < 0)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, errno,
                         "reading the program's info", "see the errno above");
  SCM meta = scm_bpf_object_meta (obj);
  SCM al = gebpf_prog_info_alist (&info, o->kind_name);
  SCM tail = scm_list_4
    (scm_cons (SYM ("digest"), scm_from_utf8_string (o->digest)),
     scm_cons (SYM ("path"), scm_from_utf8_string (o->path)),
     scm_cons (SYM ("section"), scm_from_utf8_string (o->section)),
     scm_cons (SYM ("maps"), scm_c_vector_ref (meta, 11)));
  return scm_append (scm_list_2 (al, tail));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_programs
SCM_DEFINE_STATIC (scm_bpf_programs, "%bpf-programs", 0, 0, 0, (),
                   "Return every program the kernel holds, as bpftool lists "
                   "them: a list of alists with @code{id}, @code{name}, "
                   "@code{kind}, @code{tag}, @code{run-count}, "
                   "@code{run-time-ns}, @code{xlated-insns}, "
                   "@code{jited-bytes}, @code{verified-insns}, "
                   "@code{map-count}, @code{uid} and "
                   "@code{gpl-compatible}.  Raises "
                   "@code{ebpf-permission-error} without privilege.")
{
  SCM out = SCM_EOL;
  __u32 id = 0;
  int fd;
  while ((fd = gebpf_next_kernel_object (bpf_prog_get_next_id,
                                         bpf_prog_get_fd_by_id, &id,
                                         gebpf_k_error, FUNC_NAME,
                                         "listing kernel programs")) >= 0)
    {
      struct bpf_prog_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      int r = bpf_obj_get_info_by_fd (fd, &info, &len);
      close (fd);
      if (r < 0)
        continue;
      char buf[64];
      /* The attach type is not in bpf_prog_info: typed kinds (fentry,
         tp-btf ...) show as the kernel's type name.  */
      const char *kn = gebpf_kind_name_of_type (info.type, -2, buf, sizeof buf);
      out = scm_cons (gebpf_prog_info_alist (&info, kn), out);
    }
  return scm_reverse_x (out, SCM_EOL);
}
#undef FUNC_NAME

void
gebpf_init_object_info (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "object-info.x"
#endif
}
