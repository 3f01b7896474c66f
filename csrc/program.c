/* program.c --- <bpf-object> and <bpf-link>: loading compiled BPF objects
   into the kernel and attaching their programs.

   A <bpf-object> is one program of a BPF ELF object, loaded: libbpf opens
   the object from its bytes (so the sha256 digest attests exactly what
   was loaded), every map the object names that was declared with
   defbpf-map is replaced by the declared kernel map (bpf_map__reuse_fd),
   so all programs share one map per name; the others are created
   privately by libbpf.  .rodata constants are written from #:constants
   before load.  The verifier runs first without a log; on failure the
   load is retried with a log (doubling the buffer on ENOSPC up to a cap)
   and the error carries a summary, with the whole log in its details.

   A <bpf-link> is one attachment (several kernel links for a perf event
   sampled on every CPU).  Live links sit in a registry, so dropping the
   Scheme object never detaches a program behind the user's back:
   bpf-link-destroy! or bpf-detach-all! do.  A link does not need its
   object: closing the object keeps the program attached through the
   link.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "buf.h"
#include "map.h"

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif
#ifndef SO_DETACH_BPF
#define SO_DETACH_BPF SO_DETACH_FILTER
#endif

SCM gebpf_object_type;
static SCM gebpf_link_type;

/* Verifier log: first size and cap of the doubling.  */
#define LOG_FIRST (64u << 10)
#define LOG_CAP (16u << 20)
/* Lines of verifier log kept in an error's summary.  */
#define SUMMARY_LINES 8

/* ------------------------------------------------------------------ */
/* Program kinds and attach types.                                      */

/* Program kinds are the kernel model's table (kernel.c).  */

/* #:attach-type values and the kinds they fit: the kernel model's
   cgroup hooks (kernel.c).  */

/* The short name of an attach type, for printing; NULL if none.  */
static const char *
attach_type_name (int at)
{
  for (const struct gebpf_sym *e = gebpf_hook_syms; e->name; e++)
    if (e->value == at)
      return e->name;
  return NULL;
}

/* The kind of a program as libbpf typed it from SEC(): the first kind of
   its type and attach type, or among those (kprobe, uprobe ... share a
   type) the one whose section prefix SEC() starts with.  */
static const struct gebpf_kind *
kind_of_program (const struct bpf_program *prog)
{
  enum bpf_prog_type t = bpf_program__type (prog);
  int at = bpf_program__expected_attach_type (prog);
  const char *sec = bpf_program__section_name (prog);
  const struct gebpf_kind *first = NULL;
  for (const struct gebpf_kind *k = gebpf_kinds; k->name; k++)
    if (k->type == t && (k->attach_type < 0 || k->attach_type == at))
      {
        if (!first)
          first = k;
        size_t n = k->section ? strcspn (k->section, "/") : 0;
        if (n && sec && strncmp (sec, k->section, n) == 0)
          return k;
      }
  return first;
}

/* Enough privilege to load tracing programs: an EPERM then is the
   kernel's policy, not ours to fix.  */
static bool
tracing_privileged (void)
{
  return gebpf_have_cap (21 /* CAP_SYS_ADMIN */ )
    || (gebpf_have_cap (39 /* CAP_BPF */ ) && gebpf_have_cap (38 /* CAP_PERFMON */ ));
}

static const char *
cap_names (const struct gebpf_kind *kind)
{
  return kind ? kind->caps : "CAP_BPF (or CAP_SYS_ADMIN)";
}

/* ------------------------------------------------------------------ */
/* The verifier log: annotations through the line map, and a summary.   */

/* Rewrite the verifier's source annotations "; TEXT @ FILE:N" whose N has
   a string in LINE_MAP (a vector indexed by line number) into "; STRING",
   so that the log names the Scheme form and its .scm line.  Headers' lines
   (FILE ending in .h) are left alone.  Returns a malloc'ed string.  */
static char *
rewrite_log (const char *log, SCM line_map)
{
  struct buf out = { 0 };
  bool mapped = scm_is_vector (line_map);
  size_t nmap = mapped ? scm_c_vector_length (line_map) : 0;
  const char *p = log;
  while (*p)
    {
      const char *eol = strchr (p, '\n');
      size_t len = eol ? (size_t) (eol - p) : strlen (p);
      bool done = false;
      if (mapped && len > 2 && p[0] == ';' && p[1] == ' ')
        {
          /* The last " @ " of the line, then FILE:DIGITS to its end.  */
          const char *at = NULL;
          for (const char *q = p; q + 3 <= p + len; q++)
            if (q[0] == ' ' && q[1] == '@' && q[2] == ' ')
              at = q;
          const char *colon = NULL;
          if (at)
            for (const char *q = at + 3; q < p + len; q++)
              if (*q == ':')
                colon = q;
          if (colon && colon + 1 < p + len
              && !(colon - 2 >= at + 3 && colon[-2] == '.'
                   && colon[-1] == 'h'))
            {
              size_t line = 0;
              bool digits = true;
              for (const char *q = colon + 1; q < p + len; q++)
                {
                  if (*q < '0' || *q > '9')
                    {
                      digits = false;
                      break;
                    }
                  line = line * 10 + (size_t) (*q - '0');
                }
              if (digits && line < nmap)
                {
                  SCM e = scm_c_vector_ref (line_map, line);
                  if (scm_is_string (e))
                    {
                      char *text = scm_to_utf8_string (e);
                      gebpf_buf_str (&out, "; ");
                      gebpf_buf_str (&out, text);
                      free (text);
                      done = true;
                    }
                }
            }
        }
      if (!done)
        gebpf_buf_add (&out, p, len);
      if (eol)
        gebpf_buf_add (&out, "\n", 1);
      p = eol ? eol + 1 : p + len;
    }
  if (!out.p)
    return strdup ("");
  return out.p;
}

static bool
starts (const char *line, size_t len, const char *prefix)
{
  size_t n = strlen (prefix);
  return len >= n && memcmp (line, prefix, n) == 0;
}

/* The verifier's bookkeeping lines at the end of a log.  */
static bool
noise_line (const char *line, size_t len)
{
  return len == 0 || starts (line, len, "processed ")
    || starts (line, len, "verification time ")
    || starts (line, len, "stack depth ")
    || starts (line, len, "max_states_per_insn ")
    || starts (line, len, "-- BEGIN")
    || starts (line, len, "-- END");
}

/* Lines that only show the verifier's state: instructions, register and
   stack dumps, source annotations, path and precision bookkeeping.  */
static bool
state_line (const char *line, size_t len)
{
  if (len > 0 && line[0] >= '0' && line[0] <= '9')
    {
      size_t i = 0;
      while (i < len && line[i] >= '0' && line[i] <= '9')
        i++;
      if (i < len && line[i] == ':')
        return true;            /* "11: (85) call ..." / "0: R1=ctx()" */
    }
  static const char *const prefixes[] = {
    ";", "cur state:", "old state:", "from ", "R", "fp-", "frame",
    "mark_precise", "last_idx", "regs=", "parent ", "func#", "caller:",
    "callee:", "returning from callee", "to caller at", "propagating",
    "Live regs", "Global function",
  };
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (starts (line, len, prefixes[i]))
      {
        /* "R1 type=... expected=..." and "R0 !read_ok" are errors.  */
        if (prefixes[i][0] == 'R' && prefixes[i][1] == 0)
          {
            size_t j = 1;
            while (j < len && line[j] >= '0' && line[j] <= '9')
              j++;
            return j > 1 && j < len && line[j] == '=';
          }
        return true;
      }
  return false;
}

/* Phrases of the kernel verifier's refusals (kernel/bpf/verifier.c):
   the line holding one is the headline of the summary.  */
static const char *const verifier_reasons[] = {
  "infinite loop detected", "back-edge from insn", "unreachable insn",
  "invalid mem access", "invalid access to", "invalid read from stack",
  "invalid write to stack", "invalid indirect", "invalid stack",
  "invalid size", "invalid zero-sized", "invalid variable-offset",
  "invalid func", "invalid argument", "invalid bpf_context", "invalid BPF_",
  "!read_ok", " expected=", "unknown func", "cannot call",
  "is not allowed", "not allowed", "misaligned", "min value is negative",
  "min value is outside", "max value is outside", "unbounded memory access",
  "outside of the allowed memory range", "out of bounds", "math between",
  "pointer arithmetic", "arithmetic on", "dereference of modified",
  "Unreleased reference", "reference has not been acquired",
  "leaks addr", "jump out of range", "last insn is not an exit",
  "unknown opcode", "too large", "too many", "too complex",
  "combined stack size", "the call stack of", "At program exit",
  "loop is not bounded", "only read", "cannot write into",
  "write into map forbidden", "is invalid", "unsupported", "unknown",
  "helper", "GPL",
};

/* The index of the headline among LINES[0..LAST): the last line holding
   one of the verifier's refusal phrases, else the last that is not
   state, else the last.  */
static size_t
headline_index (const char **lines, const size_t *lens, size_t last)
{
  for (size_t i = last; i-- > 0;)
    {
      char *l = strndup (lines[i], lens[i]);
      bool found = false;
      if (l)
        for (size_t k = 0;
             !found && k < sizeof verifier_reasons / sizeof *verifier_reasons;
             k++)
          found = strstr (l, verifier_reasons[k]) != NULL
            && !state_line (l, lens[i]);
      free (l);
      if (found)
        return i;
    }
  for (size_t i = last; i-- > 0;)
    if (!state_line (lines[i], lens[i]))
      return i;
  return last - 1;
}

static bool
has (const char *hay, const char *needle)
{
  return strstr (hay, needle) != NULL;
}

/* A hint for the most common refusals.  */
static const char *
verifier_fix (const char *error)
{
  if (has (error, "_or_null") || has (error, "invalid mem access 'scalar'")
      || has (error, "invalid mem access 'inv'"))
    return "check the pointer for NULL before using it (a map lookup "
      "returns NULL when the key is absent)";
  if (has (error, "invalid access to packet") || has (error, "pkt"))
    return "compare the packet pointer plus the access size with data_end "
      "before reading or writing the packet";
  if (has (error, "back-edge") || has (error, "infinite loop")
      || has (error, "too complex") || has (error, "loop"))
    return "bound every loop by a constant trip count";
  if (has (error, "!read_ok"))
    return "give the register or variable a value on every path before "
      "reading it (R0 is the return value: return on every path)";
  if (has (error, "unknown func") || has (error, "cannot call")
      || has (error, "not allowed") || has (error, "helper"))
    return has (error, "GPL")
      ? "declare a GPL-compatible license (\"GPL\", \"Dual BSD/GPL\" ...)"
      : "this helper is not available to this kind of program: use "
      "another helper or another kind";
  if (has (error, "too large") || has (error, "program too"))
    return "make the program smaller: split it or simplify its loops";
  if (has (error, "invalid indirect read")
      || has (error, "invalid read from stack")
      || has (error, "uninit"))
    return "initialise stack memory before reading it or passing it to a "
      "helper";
  if (has (error, "invalid access to map value")
      || has (error, "outside of the allowed memory range"))
    return "keep accesses to map values inside the value (check the index "
      "against its size)";
  return "read the lines above; the whole log is under 'log in the "
    "error's details (ebpf-error-details)";
}

/* Raise ebpf-verifier-error for program NAME with LOG (already rewritten
   through the line map).  The message is the last relevant lines, the
   source annotation nearest before them, and how many were left out.  */
static SCM_NORETURN void
verifier_error (const char *subr, const char *name, const char *kind,
                const char *path, const char *log)
{
  /* Split into lines (pointers into LOG).  */
  size_t n = 0, cap = 64;
  const char **lines = scm_gc_malloc_pointerless (cap * sizeof *lines,
                                                  "gebpf-log");
  size_t *lens = scm_gc_malloc_pointerless (cap * sizeof *lens, "gebpf-log");
  for (const char *p = log; *p;)
    {
      const char *eol = strchr (p, '\n');
      size_t len = eol ? (size_t) (eol - p) : strlen (p);
      if (n == cap)
        {
          size_t ncap = cap * 2;
          const char **nl = scm_gc_malloc_pointerless (ncap * sizeof *nl,
                                                       "gebpf-log");
          size_t *nn = scm_gc_malloc_pointerless (ncap * sizeof *nn,
                                                  "gebpf-log");
          memcpy (nl, lines, n * sizeof *nl);
          memcpy (nn, lens, n * sizeof *nn);
          lines = nl;
          lens = nn;
          cap = ncap;
        }
      lines[n] = p;
      lens[n] = len;
      n++;
      p = eol ? eol + 1 : p + len;
    }
  size_t last = n;
  while (last > 0 && noise_line (lines[last - 1], lens[last - 1]))
    last--;
  /* The window: the last lines before the bookkeeping, without the
     annotations that carry no source text (";  @ file:0").  */
  size_t keep[SUMMARY_LINES];
  size_t nkeep = 0;
  for (size_t i = last; i-- > 0 && nkeep < SUMMARY_LINES;)
    if (!starts (lines[i], lens[i], ";  @ "))
      keep[nkeep++] = i;
  size_t first = nkeep ? keep[nkeep - 1] : last;
  /* The source annotation nearest before the window, if the window has
     none: it says which line of source the failing code belongs to.  */
  ssize_t anno = -1;
  bool window_has_anno = false;
  for (size_t k = 0; k < nkeep; k++)
    if (starts (lines[keep[k]], lens[keep[k]], "; "))
      window_has_anno = true;
  if (!window_has_anno)
    for (size_t i = first; i-- > 0;)
      if (starts (lines[i], lens[i], "; ")
          && !starts (lines[i], lens[i], ";  @ "))
        {
          anno = (ssize_t) i;
          break;
        }

  struct buf b = { 0 };
  size_t hl = last ? headline_index (lines, lens, last) : 0;
  char *error = last ? strndup (lines[hl], lens[hl])
    : strdup ("(the verifier gave no reason)");
  size_t shown = nkeep + (anno >= 0 ? 1 : 0);
  size_t omitted = n > shown ? n - shown : 0;
  char head[1024];
  snprintf (head, sizeof head,
            "the verifier rejected program %s (%s) of %s: %s", name, kind,
            path, error);
  gebpf_buf_str (&b, head);
  if (omitted)
    {
      snprintf (head, sizeof head,
                "\n  ... %zu line%s omitted (the whole log is under 'log in "
                "the error's details)", omitted, omitted == 1 ? "" : "s");
      gebpf_buf_str (&b, head);
    }
  if (anno >= 0)
    {
      gebpf_buf_str (&b, "\n  ");
      gebpf_buf_add (&b, lines[anno], lens[anno]);
      if ((size_t) anno + 1 < first)
        gebpf_buf_str (&b, "\n  ...");
    }
  for (size_t k = nkeep; k-- > 0;)
    {
      gebpf_buf_str (&b, "\n  ");
      gebpf_buf_add (&b, lines[keep[k]], lens[keep[k]]);
    }
  const char *fix = verifier_fix (error);
  char *msg = scm_gc_strdup (b.p ? b.p : head, "gebpf-msg");
  free (b.p);
  free (error);
  gebpf_error_log (gebpf_k_verifier, subr, 0, log, fix, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* <bpf-object>.                                                         */

struct gebpf_object
{
  struct bpf_object *obj;       /* NULL once closed */
  struct bpf_program *prog;
  int prog_fd;                  /* -1 once closed */
  uint32_t id;
  enum bpf_prog_type type;
  int attach_type;
  const struct gebpf_kind *kind; /* NULL for kinds guile-ebpf has no name for */
  char *kind_name;
  char *name;                   /* the program's C name */
  char *path, *section;
  char *target;                 /* BTF target fixed at load, or NULL */
  char *log;                    /* verifier log kept at load, or NULL */
  char digest[65];
};

static void
object_release (struct gebpf_object *o)
{
  if (o->obj)
    bpf_object__close (o->obj);
  o->obj = NULL;
  o->prog = NULL;
  o->prog_fd = -1;
}

static void
finalize_object (SCM obj)
{
  struct gebpf_object *o = scm_foreign_object_ref (obj, 0);
  if (!o)
    return;
  object_release (o);
  free (o->kind_name);
  free (o->name);
  free (o->path);
  free (o->section);
  free (o->target);
  free (o->log);
  free (o);
  scm_foreign_object_set_x (obj, 0, NULL);
}

static struct gebpf_object *
object_any (SCM obj, const char *subr, int pos)
{
  if (!GEBPF_IS (obj, gebpf_object_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass an object returned by bpf-object-load",
                 "argument %d is not a <bpf-object>: %s", pos,
                 gebpf_repr (obj));
  struct gebpf_object *o = scm_foreign_object_ref (obj, 0);
  if (!o)
    gebpf_error (gebpf_k_error, subr, 0, "load the object again",
                 "the <bpf-object> was finalized");
  return o;
}

/* An object whose program is still loaded.  */
static struct gebpf_object *
object_live (SCM obj, const char *subr, int pos)
{
  struct gebpf_object *o = object_any (obj, subr, pos);
  if (!o->obj)
    gebpf_error (gebpf_k_error, subr, 0,
                 "load it again with bpf-object-load",
                 "program %s of %s was closed with bpf-object-close!",
                 o->name, o->path);
  return o;
}

static int stats_fd = -1;

/* Run-time statistics are global in the kernel and counted only while
   someone holds the fd bpf_enable_stats returns.  They cost every run of
   every BPF program on the machine two clock reads (~60 ns here), so they
   are turned on only when asked for: by bpf-enable-stats!, or the first
   time a program's statistics are read; then held for the process.  */
static void
enable_stats (void)
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
      enable_stats ();
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

/* Options of %bpf-object-load.  */
struct load_opts
{
  const struct gebpf_kind *kind;
  char *prog;                   /* C name of the program, or NULL */
  SCM constants;
  SCM line_map;
  int attach_type;              /* -1 when not given */
  char *target;
  int log_level;
};

/* What a load needs to clean up if it throws.  */
struct load_state
{
  struct bpf_object *obj;
  char *elf;
  char *log;
  char *prog;
  char *target;
};

static void
load_state_unwind (void *data)
{
  struct load_state *s = data;
  if (s->obj)
    bpf_object__close (s->obj);
  s->obj = NULL;
  free (s->elf);
  free (s->log);
  free (s->prog);
  free (s->target);
  s->elf = s->log = s->prog = s->target = NULL;
}

static char *
read_whole_file (const char *path, size_t *size, int *err)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      *err = errno;
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      *err = errno ? errno : EINVAL;
      if (S_ISDIR (st.st_mode))
        *err = EISDIR;
      close (fd);
      return NULL;
    }
  size_t n = (size_t) st.st_size;
  char *buf = malloc (n ? n : 1);
  size_t got = 0;
  while (buf && got < n)
    {
      ssize_t r = read (fd, buf + got, n - got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          *err = r < 0 ? errno : EIO;
          free (buf);
          close (fd);
          return NULL;
        }
      got += (size_t) r;
    }
  close (fd);
  if (!buf)
    *err = ENOMEM;
  *size = n;
  return buf;
}

/* The name a Scheme value gives a constant or program: '-' is '_'.  */
static char *
c_name_of (SCM v, const char *subr, const char *what)
{
  return gebpf_c_ident (v, subr, what);
}

/* Whether the rodata variable VAR is constant NAME (bpf-fn's u_NAME
   carries NAME as its symbol, so BTF names it NAME too).  */
static bool
const_name_is (const char *var, const char *name)
{
  return strcmp (var, name) == 0;
}

/* Write the (NAME . INTEGER) pairs of CONSTANTS into MAP (the .rodata
   map), at the offsets BTF gives the variables of those names.  */
static void
apply_constants (struct bpf_object *obj, struct bpf_map *map, SCM constants,
                 const char *path, const char *subr)
{
  const struct btf *btf = bpf_object__btf (obj);
  int sec_id = btf ? btf__find_by_name_kind (btf, ".rodata", BTF_KIND_DATASEC)
    : -1;
  const struct btf_type *sec = sec_id > 0 ? btf__type_by_id (btf, sec_id)
    : NULL;
  size_t size = 0;
  const void *init = map ? bpf_map__initial_value (map, &size) : NULL;
  if (!sec || !init)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "declare the constants in the C source as "
                 "`const volatile TYPE NAME = DEFAULT;' (and compile with -g)",
                 "%s has no constants (no .rodata variables in its BTF), "
                 "but #:constants names %s", path, gebpf_repr (constants));
  uint8_t *buf = scm_gc_malloc_pointerless (size, "gebpf-rodata");
  memcpy (buf, init, size);

  const struct btf_var_secinfo *vs = btf_var_secinfos (sec);
  unsigned nvars = btf_vlen (sec);
  for (SCM l = constants; scm_is_pair (l); l = scm_cdr (l))
    {
      SCM pair = scm_car (l);
      if (!scm_is_pair (pair))
        gebpf_error (gebpf_k_validation, subr, 0,
                     "give #:constants as '((NAME . INTEGER) ...)",
                     "#:constants entry %s is not a (NAME . VALUE) pair",
                     gebpf_repr (pair));
      char *cname = c_name_of (scm_car (pair), subr, "constant name");
      scm_dynwind_begin (0);
      scm_dynwind_free (cname);
      SCM v = scm_cdr (pair);
      if (scm_is_bool (v))
        v = scm_from_int (scm_is_true (v) ? 1 : 0);
      const struct btf_var_secinfo *found = NULL;
      const struct btf_type *vt = NULL;
      for (unsigned i = 0; i < nvars; i++)
        {
          const struct btf_type *var = btf__type_by_id (btf, vs[i].type);
          if (var && btf_is_var (var)
              && const_name_is (btf__name_by_offset (btf, var->name_off),
                                cname))
            {
              found = &vs[i];
              vt = btf__type_by_id (btf, var->type);
              break;
            }
        }
      if (!found)
        {
          struct buf known = { 0 };
          for (unsigned i = 0; i < nvars; i++)
            {
              const struct btf_type *var = btf__type_by_id (btf, vs[i].type);
              if (!var || !btf_is_var (var))
                continue;
              if (known.len)
                gebpf_buf_str (&known, " ");
              const char *vn = btf__name_by_offset (btf, var->name_off);
              gebpf_buf_str (&known, vn);
            }
          char *k = scm_gc_strdup (known.p ? known.p : "(none)", "gebpf-k");
          free (known.p);
          char fix[2048];
          snprintf (fix, sizeof fix, "the constants of %s are: %s", path, k);
          gebpf_error (gebpf_k_validation, subr, 0, fix,
                       "unknown constant %s (no const volatile variable of "
                       "that name in %s)", gebpf_repr (scm_car (pair)), path);
        }
      /* Integer types only, through typedefs and qualifiers.  */
      while (vt && (btf_is_mod (vt) || btf_is_typedef (vt)))
        vt = btf__type_by_id (btf, vt->type);
      bool is_signed = false, is_int = false;
      if (vt && btf_is_int (vt))
        {
          is_int = true;
          is_signed = (btf_int_encoding (vt) & BTF_INT_SIGNED) != 0;
        }
      else if (vt && (btf_is_enum (vt) || btf_is_enum64 (vt)))
        {
          is_int = true;
          is_signed = btf_kflag (vt);
        }
      uint32_t sz = found->size;
      if (!is_int || (sz != 1 && sz != 2 && sz != 4 && sz != 8)
          || found->offset + sz > size)
        gebpf_error (gebpf_k_validation, subr, 0,
                     "only integer constants of 1, 2, 4 or 8 bytes can be "
                     "set from Scheme",
                     "constant %s of %s is not an integer of 1, 2, 4 or 8 "
                     "bytes (%u bytes)", cname, path, sz);
      int bits = (int) sz * 8;
      bool ok;
      if (is_signed)
        ok = scm_is_signed_integer (v, bits == 64 ? INT64_MIN
                                    : -((int64_t) 1 << (bits - 1)),
                                    bits == 64 ? INT64_MAX
                                    : ((int64_t) 1 << (bits - 1)) - 1);
      else
        ok = scm_is_unsigned_integer (v, 0, bits == 64 ? UINT64_MAX
                                      : ((uint64_t) 1 << bits) - 1);
      if (!ok)
        {
          char range[96];
          gebpf_range (range, sizeof range,
                       !is_signed ? 0 : bits == 64 ? INT64_MIN
                       : -((int64_t) 1 << (bits - 1)),
                       is_signed ? (bits == 64 ? INT64_MAX
                                    : ((uint64_t) 1 << (bits - 1)) - 1)
                       : bits == 64 ? UINT64_MAX
                       : ((uint64_t) 1 << bits) - 1);
          gebpf_error (gebpf_k_validation, subr, 0,
                       "give an integer that fits the C type of the "
                       "constant", "constant %s of %s is a %d-bit %s "
                       "integer (%s): %s does not fit", cname, path, bits,
                       is_signed ? "signed" : "unsigned", range,
                       gebpf_repr (scm_cdr (pair)));
        }
      uint8_t *dst = buf + found->offset;
      switch (sz)
        {
        case 1:
          {
            uint8_t x = is_signed ? (uint8_t) scm_to_int8 (v)
              : scm_to_uint8 (v);
            memcpy (dst, &x, 1);
            break;
          }
        case 2:
          {
            uint16_t x = is_signed ? (uint16_t) scm_to_int16 (v)
              : scm_to_uint16 (v);
            memcpy (dst, &x, 2);
            break;
          }
        case 4:
          {
            uint32_t x = is_signed ? (uint32_t) scm_to_int32 (v)
              : scm_to_uint32 (v);
            memcpy (dst, &x, 4);
            break;
          }
        default:
          {
            uint64_t x = is_signed ? (uint64_t) scm_to_int64 (v)
              : scm_to_uint64 (v);
            memcpy (dst, &x, 8);
            break;
          }
        }
      scm_dynwind_end ();
    }
  int r = bpf_map__set_initial_value (map, buf, size);
  if (r < 0)
    gebpf_error (gebpf_k_error, subr, -r, "see the errno above",
                 "setting the constants of %s", path);
}

static const char *
map_type_name (unsigned t)
{
  for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++)
    if (e->map_type == t)
      return e->name;
  const char *s = libbpf_bpf_map_type_str (t);
  return s ? s : "?";
}

/* The dispatcher of a tracing program is built in the program's unit
   (deploy.scm): its prog-array, named SLOT_PREFIX..., is used by the
   dispatcher alone, so the program itself is loaded without it.  */
#define SLOT_PREFIX "gebpf_slot_"
#define DISPATCH_SUFFIX "__dispatch"

static bool
is_dispatcher (const struct bpf_program *prog)
{
  const char *n = bpf_program__name (prog);
  size_t l = strlen (n), s = strlen (DISPATCH_SUFFIX);
  return l > s && strcmp (n + l - s, DISPATCH_SUFFIX) == 0;
}

/* Share declared maps; write the constants.  Returns the declared maps
   used, as a list of <bpf-map>.  */
static SCM
configure_maps (struct bpf_object *obj, struct bpf_program *prog,
                const struct load_opts *lo, const char *path,
                const char *subr)
{
  SCM used = SCM_EOL;
  struct bpf_map *rodata = NULL;
  struct bpf_map *map;
  bool dispatcher = is_dispatcher (prog);
  const char *pname = bpf_program__name (prog);
  bpf_object__for_each_map (map, obj)
  {
    const char *mname = bpf_map__name (map);
    /* A dispatcher uses its own slot alone (SLOT__dispatch uses SLOT):
       an object built from several programs holds their slots too.  */
    if (strncmp (mname, SLOT_PREFIX, strlen (SLOT_PREFIX)) == 0
        && !(dispatcher && strlen (pname) == strlen (mname)
             + strlen (DISPATCH_SUFFIX)
             && strncmp (pname, mname, strlen (mname)) == 0))
      {
        bpf_map__set_autocreate (map, false);
        continue;
      }
    if (bpf_map__is_internal (map))
      {
        size_t l = strlen (mname);
        if (l >= 7 && strcmp (mname + l - 7, ".rodata") == 0)
          rodata = map;
        continue;
      }
    SCM decl = gebpf_map_lookup (scm_from_utf8_string (mname));
    if (scm_is_false (decl))
      continue;                 /* libbpf creates it for this object */
    struct gebpf_map *m = gebpf_map_from_scm (decl, subr, 1);
    unsigned t = bpf_map__type (map);
    if (t != m->map_type || bpf_map__key_size (map) != m->key_size
        || bpf_map__value_size (map) != m->value_size
        || bpf_map__max_entries (map) != m->max_entries)
      gebpf_error (gebpf_k_map, subr, 0,
                   "make the defbpf-map declaration and the map in the C "
                   "source agree (kind, key and value sizes, max-entries)",
                   "map %s is declared as %s (key %u, value %u, %u entries) "
                   "but %s defines it as %s (key %u, value %u, %u entries)",
                   m->name, map_type_name (m->map_type), m->key_size,
                   m->value_size, m->max_entries, path, map_type_name (t),
                   bpf_map__key_size (map), bpf_map__value_size (map),
                   bpf_map__max_entries (map));
    int fd = gebpf_map_ensure (decl, subr);
    int r = bpf_map__reuse_fd (map, fd);
    if (r < 0)
      gebpf_syscall_error (gebpf_k_map, subr, -r,
                           scm_gc_strdup (m->name, "gebpf-name"),
                           "see the errno above");
    used = scm_cons (decl, used);
  }
  if (scm_is_pair (lo->constants))
    apply_constants (obj, rodata, lo->constants, path, subr);
  return scm_reverse_x (used, SCM_EOL);
}

/* Choose the program, check or set its kind, load only it.  */
static struct bpf_program *
configure_program (struct bpf_object *obj, const struct load_opts *lo,
                   const char *path, const char *subr)
{
  struct bpf_program *prog = NULL, *p;
  if (lo->prog)
    {
      prog = bpf_object__find_program_by_name (obj, lo->prog);
      if (!prog)
        {
          struct buf known = { 0 };
          bpf_object__for_each_program (p, obj)
          {
            if (known.len)
              gebpf_buf_str (&known, " ");
            gebpf_buf_str (&known, bpf_program__name (p));
          }
          char *k = scm_gc_strdup (known.p ? known.p : "(none)", "gebpf-k");
          free (known.p);
          char fix[2048];
          snprintf (fix, sizeof fix, "the programs of %s are: %s", path, k);
          gebpf_error (gebpf_k_validation, subr, 0, fix,
                       "no program named %s in %s", lo->prog, path);
        }
    }
  else
    prog = bpf_object__next_program (obj, NULL);
  if (!prog)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "put a function in a SEC(\"...\") section, e.g. SEC(\"xdp\")",
                 "%s has no BPF program", path);
  bpf_object__for_each_program (p, obj)
    bpf_program__set_autoload (p, p == prog);

  const struct gebpf_kind *k = lo->kind;
  enum bpf_prog_type t = bpf_program__type (prog);
  if (k)
    {
      if (t == BPF_PROG_TYPE_UNSPEC)
        {
          bpf_program__set_type (prog, k->type);
          if (k->attach_type >= 0)
            bpf_program__set_expected_attach_type (prog, k->attach_type);
        }
      else if (t != k->type
               || (k->attach_type >= 0
                   && (int) bpf_program__expected_attach_type (prog)
                   != k->attach_type))
        {
          const struct gebpf_kind *sk = kind_of_program (prog);
          gebpf_error (gebpf_k_validation, subr, 0,
                       "make #:kind and the program's SEC() agree",
                       "program %s of %s is in section \"%s\", which makes "
                       "it a %s program, not %s",
                       bpf_program__name (prog), path,
                       bpf_program__section_name (prog),
                       sk ? sk->name : libbpf_bpf_prog_type_str (t), k->name);
        }
    }
  else if (t == BPF_PROG_TYPE_UNSPEC)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass #:kind, or use a section name libbpf knows "
                 "(SEC(\"xdp\"), SEC(\"tracepoint/CAT/NAME\") ...)",
                 "libbpf cannot tell the kind of program %s of %s from its "
                 "section \"%s\"", bpf_program__name (prog), path,
                 bpf_program__section_name (prog));

  t = bpf_program__type (prog);
  if (lo->attach_type >= 0)
    {
      if (!gebpf_hook_fits (t, lo->attach_type))
        gebpf_error (gebpf_k_validation, subr, 0, gebpf_hook_hint (t),
                     "#:attach-type %s does not fit a %s program",
                     attach_type_name (lo->attach_type),
                     k ? k->name : libbpf_bpf_prog_type_str (t));
      bpf_program__set_expected_attach_type (prog, lo->attach_type);
    }
  else if (t == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
           && !gebpf_hook_fits (t, bpf_program__expected_attach_type (prog)))
    gebpf_error (gebpf_k_validation, subr, 0, gebpf_hook_hint (t),
                 "program %s of %s is a cgroup-sock-addr program: it needs "
                 "the hook it is for", bpf_program__name (prog), path);

  if (lo->target)
    {
      const struct gebpf_kind *ek = k ? k : kind_of_program (prog);
      if (ek && (ek->flags & KF_BTF))
        {
          int r = bpf_program__set_attach_target (prog, 0, lo->target);
          if (r < 0)
            gebpf_error (gebpf_k_attach, subr, -r,
                         "list the candidates with bpf-list-probes, or look "
                         "for the name in /sys/kernel/btf/vmlinux (bpftool "
                         "btf dump file /sys/kernel/btf/vmlinux)",
                         "no kernel %s named %s for %s program %s",
                         ek->attach_type == BPF_TRACE_RAW_TP
                         ? "BTF tracepoint" : ek->type == BPF_PROG_TYPE_LSM
                         ? "LSM hook" : "function", lo->target, ek->name,
                         bpf_program__name (prog));
        }
    }
  return prog;
}

/* The target of a BTF kind: #:target, else the part of SEC() after '/'.  */
static char *
btf_target (const struct bpf_program *prog, const struct gebpf_kind *k,
            const char *given)
{
  if (!k || !(k->flags & KF_BTF))
    return NULL;
  if (given)
    return strdup (given);
  const char *sec = bpf_program__section_name (prog);
  const char *slash = strchr (sec, '/');
  return slash && slash[1] ? strdup (slash + 1) : NULL;
}

static void
parse_load_options (SCM rest, struct load_opts *lo, struct load_state *st,
                    const char *subr)
{
  lo->kind = NULL;
  lo->prog = NULL;
  lo->constants = SCM_EOL;
  lo->line_map = SCM_BOOL_F;
  lo->attach_type = -1;
  lo->target = NULL;
  lo->log_level = 0;
  static const char *known =
    "#:kind #:name #:constants #:line-map #:attach-type #:target #:log-level";
  while (!scm_is_null (rest))
    {
      if (!scm_is_pair (rest) || !scm_is_keyword (scm_car (rest))
          || !scm_is_pair (scm_cdr (rest)))
        gebpf_error (gebpf_k_validation, subr, 0, known,
                     "expected keyword arguments, got %s", gebpf_repr (rest));
      SCM kw = scm_car (rest), v = scm_cadr (rest);
      rest = scm_cddr (rest);
      char *k = scm_to_utf8_string (scm_symbol_to_string
                                    (scm_keyword_to_symbol (kw)));
      int which = !strcmp (k, "kind") ? 0 : !strcmp (k, "name") ? 1
        : !strcmp (k, "constants") ? 2 : !strcmp (k, "line-map") ? 3
        : !strcmp (k, "attach-type") ? 4 : !strcmp (k, "target") ? 5
        : !strcmp (k, "log-level") ? 6 : -1;
      free (k);
      if (scm_is_false (v) && which >= 0 && which != 6)
        continue;               /* #f: not given */
      switch (which)
        {
        case 0:
          lo->kind = &gebpf_kinds[gebpf_sym_lookup (gebpf_kind_syms, v, subr,
                                              "program kind")];
          break;
        case 1:
          free (st->prog);
          st->prog = lo->prog = c_name_of (v, subr, "program name");
          break;
        case 2:
          if (scm_is_false (scm_list_p (v)))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give #:constants as '((NAME . INTEGER) ...)",
                         "#:constants must be an alist, not %s",
                         gebpf_repr (v));
          lo->constants = v;
          break;
        case 3:
          if (!scm_is_vector (v))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give a vector indexed by C line number whose "
                         "elements are #f or strings",
                         "#:line-map must be a vector or #f, not %s",
                         gebpf_repr (v));
          lo->line_map = v;
          break;
        case 4:
          lo->attach_type = (int) gebpf_sym_lookup (gebpf_hook_syms, v, subr,
                                                    "attach type");
          break;
        case 5:
          if (!scm_is_string (v) && !scm_is_symbol (v))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give the target as a string, e.g. \"sys_enter\"",
                         "#:target must be a string, not %s", gebpf_repr (v));
          free (st->target);
          st->target = lo->target = scm_to_utf8_string
            (scm_is_string (v) ? v : scm_symbol_to_string (v));
          break;
        case 6:
          if (scm_is_false (v))
            lo->log_level = 0;
          else if (scm_is_eq (v, SCM_BOOL_T))
            lo->log_level = 1;
          else if (scm_is_unsigned_integer (v, 0, 7))
            lo->log_level = scm_to_int (v);
          else
            gebpf_error (gebpf_k_validation, subr, 0,
                         "use 0 (a log only on failure), 1 (the verifier's "
                         "trace), 2 (verbose) or 4 (statistics)",
                         "#:log-level must be an integer from 0 to 7, not %s",
                         gebpf_repr (v));
          break;
        default:
          gebpf_error (gebpf_k_validation, subr, 0, known,
                       "unknown keyword %s", gebpf_repr (kw));
        }
    }
}

#define FUNC_NAME s_scm_bpf_object_load
SCM_DEFINE_STATIC (scm_bpf_object_load, "%bpf-object-load", 1, 0, 1,
                   (SCM path, SCM rest),
                   "Load one program of the BPF ELF object at @var{path} "
                   "into the kernel and return a @code{<bpf-object>}.  "
                   "Keywords (each may be @code{#f}): @code{#:kind} "
                   "(xdp, tc, tracepoint ... checked against SEC(), or set "
                   "when SEC() does not say), @code{#:name} (the program; "
                   "default the first), @code{#:constants} (alist of "
                   ".rodata constants), @code{#:line-map} (vector from C "
                   "line to the text that replaces the verifier log's "
                   "annotation of that line), @code{#:attach-type} (cgroup "
                   "hook: ingress, egress, connect4 ...), @code{#:target} "
                   "(function or tracepoint of tp-btf, fentry, fexit, "
                   "fmod-ret, lsm), @code{#:log-level} (keep the verifier "
                   "log of a successful load).  Declared maps of the same "
                   "name are shared.  Raises @code{ebpf-verifier-error} "
                   "(summary; full log under @code{log} in the details), "
                   "@code{ebpf-permission-error}, @code{ebpf-attach-error} "
                   "(a refused trampoline, a missing BTF target), "
                   "@code{ebpf-map-error}, @code{ebpf-validation-error} "
                   "(unknown constant, kind or program) or @code{ebpf-error}.")
{
  SCM_VALIDATE_STRING (1, path);
  struct load_state st = { 0 };
  struct load_opts lo;
  scm_dynwind_begin (0);
  scm_dynwind_unwind_handler (load_state_unwind, &st, 0);
  char *cpath = scm_to_utf8_string (path);
  scm_dynwind_free (cpath);
  parse_load_options (rest, &lo, &st, FUNC_NAME);

  size_t elf_size = 0;
  int err = 0;
  st.elf = read_whole_file (cpath, &elf_size, &err);
  if (!st.elf)
    gebpf_error (gebpf_k_error, FUNC_NAME, err,
                 err == ENOENT ? "check the path (build the object with "
                 "clang -g -O2 -target bpf -c x.bpf.c -o x.bpf.o)"
                 : "check the path and its permissions",
                 "cannot read BPF object %s", cpath);
  char digest[65];
  gebpf_sha256_hex (st.elf, elf_size, digest);

  /* libbpf names the object (and its internal maps) after the file.  */
  char objname[64];
  const char *base = strrchr (cpath, '/');
  snprintf (objname, sizeof objname, "%s", base ? base + 1 : cpath);
  char *dot = strchr (objname, '.');
  if (dot && dot != objname)
    *dot = 0;

  gebpf_libbpf_log_take ();     /* forget what earlier calls printed */
  size_t log_size = LOG_FIRST;
  int log_level = lo.log_level;
  SCM used = SCM_EOL;
  struct bpf_program *prog = NULL;
  const struct gebpf_kind *kind = NULL;
  for (;;)
    {
      LIBBPF_OPTS (bpf_object_open_opts, oo, .object_name = objname);
      st.obj = bpf_object__open_mem (st.elf, elf_size, &oo);
      if (!st.obj)
        {
          err = errno;
          const char *lib = gebpf_libbpf_log_take ();
          gebpf_error_log (gebpf_k_error, FUNC_NAME, err, lib,
                           "build the object with clang -g -O2 -target bpf "
                           "(BTF is needed); libbpf's messages are under "
                           "'log in the details",
                           "libbpf cannot open %s as a BPF object", cpath);
        }
      prog = configure_program (st.obj, &lo, cpath, FUNC_NAME);
      used = configure_maps (st.obj, prog, &lo, cpath, FUNC_NAME);
      kind = lo.kind ? lo.kind : kind_of_program (prog);

      free (st.log);
      st.log = malloc (log_size);
      if (!st.log)
        gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                     "allocating the verifier log");
      st.log[0] = 0;
      bpf_program__set_log_buf (prog, st.log, log_size);
      /* Level 0 first: libbpf itself retries a failed load at level 1
         into our buffer, so the cheap path stays cheap.  */
      bpf_program__set_log_level (prog, log_level);
      int r = bpf_object__load (st.obj);
      if (r == 0)
        break;
      err = -r;
      if (err == ENOSPC && log_size < LOG_CAP)
        {
          /* The log did not fit: grow it and try again, at level 1
             straight away (the rolling log keeps the end meanwhile).  */
          bpf_object__close (st.obj);
          st.obj = NULL;
          log_size *= 2;
          if (log_level == 0)
            log_level = 1;
          gebpf_libbpf_log_take ();
          continue;
        }

      /* Failed for good: say why.  */
      const char *pname = bpf_program__name (prog);
      const char *kname = kind ? kind->name
        : libbpf_bpf_prog_type_str (bpf_program__type (prog));
      st.log[log_size - 1] = 0;
      char *rlog = rewrite_log (st.log, lo.line_map);
      char *glog = scm_gc_strdup (rlog, "gebpf-log");
      free (rlog);
      char *lib = scm_gc_strdup (gebpf_libbpf_log_take (), "gebpf-log");
      char *gname = scm_gc_strdup (pname, "gebpf-name");
      char *gsec = scm_gc_strdup (bpf_program__section_name (prog),
                                  "gebpf-name");
      char *gtarget = scm_gc_strdup (st.target ? st.target : gsec,
                                     "gebpf-name");
      bpf_object__close (st.obj);
      st.obj = NULL;
      bool has_log = glog[0] != 0;
      if (kind && (kind->flags & KF_TRAMPOLINE)
          && (err == EOPNOTSUPP || err == ENOTSUPP_ERRNO
              || ((err == EPERM || (err == EACCES && !has_log))
                  && tracing_privileged ())))
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err,
                         has_log ? glog : lib,
                         "attach to the same event without a trampoline: a "
                         "tracepoint (#:kind 'tracepoint, "
                         "\"syscalls/sys_enter_openat\"), a raw tracepoint "
                         "or tp-btf; or a kprobe where the kernel has them",
                         "this kernel refused the %s program %s (%s): it "
                         "does not allow BPF trampoline programs (fentry, "
                         "fexit, fmod-ret, lsm)", kname, gname, gsec);
      if (err == EPERM || (err == EACCES && !has_log))
        {
          char fix[512];
          snprintf (fix, sizeof fix,
                    "run as root, or grant %s, e.g. `sudo setcap "
                    "cap_bpf,cap_perfmon,cap_net_admin+ep $(which guile)`",
                    cap_names (kind));
          gebpf_error_log (gebpf_k_permission, FUNC_NAME, err, lib, fix,
                           "loading %s program %s of %s needs %s: the "
                           "kernel refused it", kname, gname, cpath,
                           cap_names (kind));
        }
      if (has_log)
        verifier_error (FUNC_NAME, gname, kname, cpath, glog);
      if (kind && (kind->flags & KF_BTF) && (err == ESRCH || err == ENOENT))
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, lib,
                         "list the candidates with bpf-list-probes, or pass "
                         "#:target with a name /sys/kernel/btf/vmlinux has",
                         "no kernel %s for %s program %s (target %s)",
                         kind->attach_type == BPF_TRACE_RAW_TP
                         ? "BTF tracepoint" : kind->type == BPF_PROG_TYPE_LSM
                         ? "LSM hook" : "function", kname, gname, gtarget);
      gebpf_error_log (gebpf_k_error, FUNC_NAME, err, lib,
                       "libbpf's messages are under 'log in the details",
                       "loading %s program %s of %s failed", kname, gname,
                       cpath);
    }

  struct gebpf_object *o = calloc (1, sizeof *o);
  o->obj = st.obj;
  o->prog = prog;
  o->prog_fd = bpf_program__fd (prog);
  o->type = bpf_program__type (prog);
  o->attach_type = bpf_program__expected_attach_type (prog);
  o->kind = kind;
  if (kind)
    o->kind_name = strdup (kind->name);
  else
    {
      const char *s = libbpf_bpf_prog_type_str (o->type);
      o->kind_name = strdup (s ? s : "unknown");
      for (char *q = o->kind_name; *q; q++)
        if (*q == '_')
          *q = '-';
    }
  o->name = strdup (bpf_program__name (prog));
  o->path = strdup (cpath);
  o->section = strdup (bpf_program__section_name (prog));
  o->target = btf_target (prog, kind, st.target);
  memcpy (o->digest, digest, sizeof digest);
  if (lo.log_level && st.log[0])
    {
      st.log[log_size - 1] = 0;
      o->log = rewrite_log (st.log, lo.line_map);
    }
  struct bpf_prog_info info;
  __u32 len = sizeof info;
  memset (&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd (o->prog_fd, &info, &len) == 0)
    o->id = info.id;
  st.obj = NULL;                /* the object owns it now */
  SCM obj = scm_make_foreign_object_2 (gebpf_object_type, o,
                                       (void *) SCM_UNPACK (used));
  scm_dynwind_end ();
  free (st.elf);
  free (st.log);
  free (st.prog);
  free (st.target);
  return obj;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_object_close_x
SCM_DEFINE_STATIC (scm_bpf_object_close_x, "%bpf-object-close!", 1, 0, 0,
                   (SCM obj),
                   "Unload @var{obj}: close its program and private maps.  "
                   "Idempotent.  Links attached from it stay attached (they "
                   "hold the program in the kernel) until destroyed.  "
                   "Raises @code{ebpf-validation-error} if @var{obj} is not "
                   "a @code{<bpf-object>}.")
{
  struct gebpf_object *o = object_any (obj, FUNC_NAME, 1);
  object_release (o);
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_object_p
SCM_DEFINE_STATIC (scm_bpf_object_p, "%bpf-object?", 1, 0, 0, (SCM obj),
                   "Return @code{#t} if @var{obj} is a @code{<bpf-object>}, "
                   "loaded or closed.  Raises nothing.")
{
  return scm_from_bool (GEBPF_IS (obj, gebpf_object_type));
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
  struct gebpf_object *o = object_any (obj, FUNC_NAME, 1);
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
    at = attach_type_name (o->attach_type);
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

static const char *
kind_name_of_type (enum bpf_prog_type t, int at, char *buf, size_t n)
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
static SCM
prog_info_alist (const struct bpf_prog_info *info, const char *kind)
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
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  enable_stats ();
  struct bpf_prog_info info;
  __u32 len = sizeof info;
  memset (&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd (o->prog_fd, &info, &len) < 0)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, errno,
                         "reading the program's info", "see the errno above");
  SCM meta = scm_bpf_object_meta (obj);
  SCM al = prog_info_alist (&info, o->kind_name);
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
                   "@code{map-count} and @code{uid}.  Raises "
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
      const char *kn = kind_name_of_type (info.type, -2, buf, sizeof buf);
      out = scm_cons (prog_info_alist (&info, kn), out);
    }
  return scm_reverse_x (out, SCM_EOL);
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* BPF_PROG_TEST_RUN.                                                    */

#define FUNC_NAME s_scm_bpf_test_run
SCM_DEFINE_STATIC (scm_bpf_test_run, "%bpf-test-run", 3, 0, 0,
                   (SCM obj, SCM data, SCM repeat),
                   "Run the program of @var{obj} @var{repeat} times on the "
                   "packet @var{data} (a bytevector) with "
                   "BPF_PROG_TEST_RUN; return a vector #(RETVAL "
                   "DURATION-NS DATA-OUT), DURATION-NS the mean per run and "
                   "DATA-OUT the packet as the program left it.  Raises "
                   "@code{ebpf-validation-error} on bad arguments, "
                   "@code{ebpf-error} when the kernel cannot test-run this "
                   "kind of program or refuses the packet.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  if (!scm_is_bytevector (data))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the packet as a bytevector",
                 "argument 2 is not a bytevector: %s", gebpf_repr (data));
  if (!scm_is_unsigned_integer (repeat, 0, UINT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give #:repeat as a count of runs",
                 "repeat must be an integer between 0 and 2^32-1, not %s",
                 gebpf_repr (repeat));
  size_t in_size = SCM_BYTEVECTOR_LENGTH (data);
  /* A program may grow the packet (XDP tail and head adjustments).  */
  size_t out_size = in_size + 4096;
  scm_dynwind_begin (0);
  for (int attempt = 0;; attempt++)
    {
      uint8_t *in = malloc (in_size ? in_size : 1);
      uint8_t *out = malloc (out_size);
      scm_dynwind_free (in);
      scm_dynwind_free (out);
      if (!in || !out)
        gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                     "allocating the test packet");
      memcpy (in, SCM_BYTEVECTOR_CONTENTS (data), in_size);
      LIBBPF_OPTS (bpf_test_run_opts, t,
                   .data_in = in,.data_size_in = (__u32) in_size,
                   .data_out = out,.data_size_out = (__u32) out_size,
                   .repeat = scm_to_uint32 (repeat));
      int r = bpf_prog_test_run_opts (o->prog_fd, &t);
      if (r < 0 && errno == ENOSPC && attempt == 0
          && t.data_size_out > out_size)
        {
          out_size = t.data_size_out;
          continue;
        }
      if (r < 0)
        {
          int err = errno;
          char what[256];
          snprintf (what, sizeof what, "test-running %s program %s",
                    o->kind_name, o->name);
          if (err == EPERM || err == EACCES)
            gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err, what, NULL);
          gebpf_error (gebpf_k_error, FUNC_NAME, err,
                       err == ENOTSUPP_ERRNO || err == EOPNOTSUPP
                       ? "BPF_PROG_TEST_RUN runs packet programs (xdp, tc, "
                       "socket-filter, cgroup-skb ...); attach tracing "
                       "programs and make the event happen instead"
                       : "give a whole packet: at least an Ethernet header "
                       "(14 bytes) for xdp and tc", "%s", what);
        }
      size_t n = t.data_size_out <= out_size ? t.data_size_out : out_size;
      SCM bv = scm_c_make_bytevector (n);
      memcpy (SCM_BYTEVECTOR_CONTENTS (bv), out, n);
      SCM v = scm_c_make_vector (3, SCM_BOOL_F);
      scm_c_vector_set_x (v, 0, scm_from_uint32 (t.retval));
      scm_c_vector_set_x (v, 1, scm_from_uint32 (t.duration));
      scm_c_vector_set_x (v, 2, bv);
      scm_dynwind_end ();
      return v;
    }
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* <bpf-link>.                                                           */

enum part_kind
{
  PART_LIBBPF,                  /* a struct bpf_link of libbpf */
  PART_FD,                      /* a bare kernel link fd (XDP with a mode) */
  PART_TC,                      /* a tc filter (netlink, no kernel link) */
  PART_SOCKET,                  /* SO_ATTACH_BPF on a socket */
};

struct part
{
  enum part_kind kind;
  struct bpf_link *link;
  int fd;                       /* PART_FD: the link; PART_SOCKET: socket */
  int ifindex;                  /* PART_TC */
  uint32_t handle, priority;
  int attach_point;
  bool hook_created;            /* PART_TC: we made the clsact qdisc */
  dev_t dev;                    /* PART_SOCKET: which socket the fd was */
  ino_t ino;
};

struct gebpf_link
{
  char *kind;                   /* attach kind: "tracepoint", "xdp" ... */
  char *target;                 /* what it is attached to, printable */
  char *prog_name;
  enum bpf_prog_type type;
  int attach_type;
  size_t nparts;
  struct part *parts;
  bool live;
  SCM self;                     /* protected while live */
  struct gebpf_link *prev, *next;
};

static struct gebpf_link *live_links;   /* the registry */
/* Guards live_links: links may be made and destroyed from several
   threads.  Nothing throws while it is held.  */
static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;

static void
part_destroy (struct part *p)
{
  switch (p->kind)
    {
    case PART_LIBBPF:
      if (p->link)
        bpf_link__destroy (p->link);
      p->link = NULL;
      break;
    case PART_FD:
      if (p->fd >= 0)
        close (p->fd);
      p->fd = -1;
      break;
    case PART_TC:
      {
        LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = p->ifindex,
                     .attach_point = p->attach_point);
        LIBBPF_OPTS (bpf_tc_opts, o, .handle = p->handle,
                     .priority = p->priority);
        bpf_tc_detach (&hook, &o);
        if (p->hook_created)
          {
            /* The qdisc is shared by every tc link on the interface: hand
               it over to another live one of ours, else remove it.  */
            bool handed = false;
            for (struct gebpf_link *l = live_links; l && !handed; l = l->next)
              for (size_t i = 0; i < l->nparts && !handed; i++)
                {
                  struct part *q = &l->parts[i];
                  if (q != p && q->kind == PART_TC && q->ifindex == p->ifindex
                      && q->handle)
                    {
                      q->hook_created = true;
                      handed = true;
                    }
                }
            if (!handed)
              {
                hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                bpf_tc_hook_destroy (&hook);
              }
          }
        p->handle = 0;
        p->hook_created = false;
        break;
      }
    case PART_SOCKET:
      if (p->fd >= 0)
        {
          /* Only if the fd still names the socket we attached to.  */
          struct stat st;
          if (fstat (p->fd, &st) == 0 && st.st_dev == p->dev
              && st.st_ino == p->ino)
            {
              int dummy = 0;
              setsockopt (p->fd, SOL_SOCKET, SO_DETACH_BPF, &dummy,
                          sizeof dummy);
            }
        }
      p->fd = -1;
      break;
    }
}

static void
link_destroy (struct gebpf_link *l)
{
  pthread_mutex_lock (&links_lock);
  if (!l->live)
    {
      pthread_mutex_unlock (&links_lock);
      return;
    }
  l->live = false;
  if (l->prev)
    l->prev->next = l->next;
  else
    live_links = l->next;
  if (l->next)
    l->next->prev = l->prev;
  l->prev = l->next = NULL;
  for (size_t i = 0; i < l->nparts; i++)
    part_destroy (&l->parts[i]);
  SCM self = l->self;
  l->self = SCM_BOOL_F;
  pthread_mutex_unlock (&links_lock);
  scm_gc_unprotect_object (self);
}

static void
finalize_link (SCM obj)
{
  struct gebpf_link *l = scm_foreign_object_ref (obj, 0);
  if (!l)
    return;
  /* Live links are protected, so this is only a backstop.  */
  if (l->live)
    for (size_t i = 0; i < l->nparts; i++)
      part_destroy (&l->parts[i]);
  free (l->kind);
  free (l->target);
  free (l->prog_name);
  free (l->parts);
  free (l);
  scm_foreign_object_set_x (obj, 0, NULL);
}

static struct gebpf_link *
link_from_scm (SCM obj, const char *subr, int pos)
{
  if (!GEBPF_IS (obj, gebpf_link_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass a link returned by an attach procedure",
                 "argument %d is not a <bpf-link>: %s", pos, gebpf_repr (obj));
  struct gebpf_link *l = scm_foreign_object_ref (obj, 0);
  if (!l)
    gebpf_error (gebpf_k_error, subr, 0, "attach again",
                 "the <bpf-link> was finalized");
  return l;
}

/* Make a live <bpf-link> owning PARTS (malloc'ed, N of them).  */
static SCM
make_link (SCM object, struct gebpf_object *o, const char *kind,
           const char *target, struct part *parts, size_t n)
{
  struct gebpf_link *l = calloc (1, sizeof *l);
  l->kind = strdup (kind);
  l->target = strdup (target);
  l->prog_name = strdup (o->name);
  l->type = o->type;
  l->attach_type = o->attach_type;
  l->parts = parts;
  l->nparts = n;
  l->live = true;
  SCM obj = scm_make_foreign_object_2 (gebpf_link_type, l,
                                       (void *) SCM_UNPACK (object));
  l->self = scm_gc_protect_object (obj);
  pthread_mutex_lock (&links_lock);
  l->next = live_links;
  if (live_links)
    live_links->prev = l;
  live_links = l;
  pthread_mutex_unlock (&links_lock);
  return obj;
}

static SCM
make_link1 (SCM object, struct gebpf_object *o, const char *kind,
            const char *target, struct part p)
{
  struct part *parts = malloc (sizeof *parts);
  *parts = p;
  return make_link (object, o, kind, target, parts, 1);
}

static SCM
libbpf_link (SCM object, struct gebpf_object *o, const char *kind,
             const char *target, struct bpf_link *link)
{
  struct part p = { .kind = PART_LIBBPF, .link = link, .fd = -1 };
  return make_link1 (object, o, kind, target, p);
}

/* Check that OBJ's program has one of the types an attach needs.  */
static void
need_type (struct gebpf_object *o, const char *subr, const char *what,
           enum bpf_prog_type t1, enum bpf_prog_type t2)
{
  if (o->type == t1 || o->type == t2)
    return;
  gebpf_error (gebpf_k_validation, subr, 0,
               "load a program of the right kind (#:kind), or use the "
               "attach procedure of its kind",
               "program %s is a %s program; attaching it as %s needs "
               "another kind", o->name, o->kind_name, what);
}

static char *
scm_string_arg (SCM s, const char *subr, int pos, const char *what)
{
  if (scm_is_symbol (s))
    s = scm_symbol_to_string (s);
  if (!scm_is_string (s))
    gebpf_error (gebpf_k_validation, subr, 0, "give it as a string",
                 "argument %d (%s) must be a string, not %s", pos, what,
                 gebpf_repr (s));
  char *c = scm_to_utf8_string (s);
  scm_dynwind_free (c);
  return c;
}

#define FUNC_NAME s_scm_bpf_attach_tracepoint
SCM_DEFINE_STATIC (scm_bpf_attach_tracepoint, "%bpf-attach-tracepoint", 3, 0,
                   0, (SCM obj, SCM target, SCM cookie),
                   "Attach the tracepoint program of @var{obj} to "
                   "@var{target}, @code{\"CATEGORY/NAME\"} or "
                   "@code{\"CATEGORY:NAME\"}, with @var{cookie} (an "
                   "unsigned 64-bit integer or @code{#f}) for "
                   "@code{bpf_get_attach_cookie}.  Return a "
                   "@code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "naming a missing tracepoint, "
                   "@code{ebpf-permission-error}, or "
                   "@code{ebpf-validation-error}.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a tracepoint", BPF_PROG_TYPE_TRACEPOINT,
             BPF_PROG_TYPE_TRACEPOINT);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "tracepoint");
  uint64_t ck = 0;
  if (scm_is_true (cookie))
    {
      if (!scm_is_unsigned_integer (cookie, 0, UINT64_MAX))
        gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                     "give the cookie as an unsigned 64-bit integer",
                     "bad #:cookie %s (between 0 and 2^64-1)",
                     gebpf_repr (cookie));
      ck = scm_to_uint64 (cookie);
    }
  char *cat = strdupa (t);
  char *sep = strpbrk (cat, "/:");
  if (!sep || sep == cat || !sep[1] || strpbrk (sep + 1, "/:"))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"CATEGORY/NAME\" or \"CATEGORY:NAME\", e.g. "
                 "\"syscalls/sys_enter_openat\"",
                 "bad tracepoint name %s", t);
  *sep = 0;
  const char *name = sep + 1;
  const char *dir = gebpf_tracefs (true);
  if (!dir)
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                 "mount it: mount -t tracefs tracefs /sys/kernel/tracing",
                 "tracefs is not mounted, so tracepoint %s cannot be found",
                 t);
  char path[512];
  snprintf (path, sizeof path, "%s/events/%s/%s", dir, cat, name);
  if (access (path, F_OK) != 0)
    {
      char fix[700];
      snprintf (fix, sizeof fix, "list the tracepoints with "
                "(bpf-list-probes \"%s:*\") or ls %s/events/%s", cat, dir,
                cat);
      gebpf_error (gebpf_k_attach, FUNC_NAME, 0, fix,
                   "no tracepoint %s:%s in this kernel", cat, name);
    }
  LIBBPF_OPTS (bpf_tracepoint_opts, topts, .bpf_cookie = ck);
  struct bpf_link *link = bpf_program__attach_tracepoint_opts (o->prog, cat,
                                                              name, &topts);
  if (!link)
    {
      char what[512];
      snprintf (what, sizeof what, "attaching %s to tracepoint %s:%s",
                o->name, cat, name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, errno,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[512];
  snprintf (desc, sizeof desc, "%s:%s", cat, name);
  SCM l = libbpf_link (obj, o, "tracepoint", desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_raw_tracepoint
SCM_DEFINE_STATIC (scm_bpf_attach_raw_tracepoint, "%bpf-attach-raw-tracepoint",
                   2, 0, 0,
                   (SCM obj, SCM target),
                   "Attach the raw-tracepoint program of @var{obj} to the "
                   "raw tracepoint @var{target} (e.g. @code{\"sys_enter\"}; "
                   "a @code{\"CATEGORY:NAME\"} spelling keeps NAME).  "
                   "Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing tracepoint.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a raw tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT,
             BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "raw tracepoint");
  const char *sep = strrchr (t, ':');
  if (!sep)
    sep = strrchr (t, '/');
  const char *name = sep ? sep + 1 : t;
  struct bpf_link *link = bpf_program__attach_raw_tracepoint (o->prog, name);
  if (!link)
    {
      int err = errno;
      if (err == ENOENT)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "list the tracepoints with bpf-list-probes; a raw "
                     "tracepoint takes the bare name, e.g. \"sys_enter\"",
                     "no raw tracepoint %s in this kernel", name);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to raw tracepoint %s",
                o->name, name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  SCM l = libbpf_link (obj, o, "raw-tracepoint", name, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_trace
SCM_DEFINE_STATIC (scm_bpf_attach_trace, "%bpf-attach-trace", 1, 0, 0,
                   (SCM obj),
                   "Attach the tp-btf, fentry, fexit, fmod-ret or lsm "
                   "program of @var{obj} to the target fixed at load "
                   "(its SEC() or @code{#:target}).  Return a "
                   "@code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "when the kernel refuses.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a BTF-typed tracing program",
             BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_LSM);
  struct bpf_link *link = o->type == BPF_PROG_TYPE_LSM
    ? bpf_program__attach_lsm (o->prog) : bpf_program__attach_trace (o->prog);
  if (!link)
    {
      int err = errno;
      if (o->kind && (o->kind->flags & KF_TRAMPOLINE)
          && (err == EPERM || err == EOPNOTSUPP || err == ENOTSUPP_ERRNO))
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "attach to the same event with a tracepoint, raw "
                     "tracepoint or tp-btf program",
                     "this kernel refused to attach the %s program %s "
                     "(BPF trampolines are not allowed here)",
                     o->kind_name, o->name);
      char what[512];
      snprintf (what, sizeof what, "attaching %s program %s to %s",
                o->kind_name, o->name, o->target ? o->target : "its target");
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  return libbpf_link (obj, o, o->kind_name,
                      o->target ? o->target : o->section, link);
}
#undef FUNC_NAME

static bool
kernel_has_kprobes (void)
{
  if (access ("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0)
    return true;
  const char *dir = gebpf_tracefs (true);
  char path[256];
  snprintf (path, sizeof path, "%s/kprobe_events", dir ? dir : "/nonexistent");
  return access (path, F_OK) == 0;
}

static int
pid_arg (SCM pid, const char *subr)
{
  if (scm_is_false (pid))
    return -1;
  if (!scm_is_signed_integer (pid, 1, INT32_MAX))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give #:pid as a process id, or #f for every process",
                 "bad #:pid %s (between 1 and 2^31-1)", gebpf_repr (pid));
  return scm_to_int (pid);
}

static uint64_t
cookie_arg (SCM cookie, const char *subr)
{
  if (SCM_UNBNDP (cookie) || scm_is_false (cookie))
    return 0;
  if (!scm_is_unsigned_integer (cookie, 0, UINT64_MAX))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give the cookie as an integer from 0 to 2^64-1",
                 "bad cookie %s", gebpf_repr (cookie));
  return scm_to_uint64 (cookie);
}

#define FUNC_NAME s_scm_bpf_attach_kprobe
SCM_DEFINE_STATIC (scm_bpf_attach_kprobe, "%bpf-attach-kprobe", 3, 1, 0,
                   (SCM obj, SCM function, SCM retprobe, SCM cookie),
                   "Attach the kprobe program of @var{obj} to kernel "
                   "function @var{function}, at its return when "
                   "@var{retprobe} is true, with @var{cookie} for "
                   "@code{bpf_get_attach_cookie}.  Return a "
                   "@code{<bpf-link>}.  "
                   "Raises @code{ebpf-attach-error} when the kernel has no "
                   "kprobes or no such function.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a kprobe", BPF_PROG_TYPE_KPROBE,
             BPF_PROG_TYPE_KPROBE);
  scm_dynwind_begin (0);
  char *fn = scm_string_arg (function, FUNC_NAME, 2, "kernel function");
  bool ret = scm_is_true (retprobe);
  if (!kernel_has_kprobes ())
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                 "trace the same events with a tracepoint "
                 "(\"syscalls/sys_enter_openat\"), a raw tracepoint or "
                 "tp-btf; bpf-list-probes lists them",
                 "this kernel has no kprobes (no kprobe PMU, no "
                 "kprobe_events), so %s cannot be attached to %s",
                 o->name, fn);
  LIBBPF_OPTS (bpf_kprobe_opts, ko, .retprobe = ret,
               .bpf_cookie = cookie_arg (cookie, FUNC_NAME));
  struct bpf_link *link = bpf_program__attach_kprobe_opts (o->prog, fn, &ko);
  if (!link)
    {
      int err = errno;
      if (err == ENOENT || err == EINVAL)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "check the name in /proc/kallsyms; inlined and "
                     "notrace functions cannot be probed",
                     "cannot put a %s on kernel function %s",
                     ret ? "kretprobe" : "kprobe", fn);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to %s", o->name, fn);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  SCM l = libbpf_link (obj, o, ret ? "kretprobe" : "kprobe", fn, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_uprobe_resolve
SCM_DEFINE_STATIC (scm_bpf_uprobe_resolve, "%bpf-uprobe-resolve", 1, 0, 0,
                   (SCM target),
                   "Return @code{(PATH . OFFSET)} where the uprobe target "
                   "@var{target}, @code{\"LIB:SYMBOL\"}, lands: the file "
                   "of LIB (a path, an executable in PATH, or a library "
                   "of the dynamic linker's cache) and the file offset of "
                   "SYMBOL (@code{SYM}, @code{SYM@@VERSION} or "
                   "@code{0xOFFSET}; of several versions the default "
                   "one).  Raises @code{ebpf-attach-error} naming a "
                   "missing binary, symbol or version.")
{
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 1, "uprobe target");
  char *colon = strrchr (t, ':');
  if (!colon)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:SYMBOL\", e.g. \"libc:malloc\" or "
                 "\"/usr/bin/bash:readline\"",
                 "bad uprobe target %s", t);
  *colon = 0;
  const char *bin = gebpf_uprobe_binary (t, FUNC_NAME, NULL);
  size_t off = gebpf_uprobe_offset (bin, colon + 1, FUNC_NAME, NULL);
  SCM r = scm_cons (scm_from_utf8_string (bin), scm_from_size_t (off));
  scm_dynwind_end ();
  return r;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_uprobe_symbols
SCM_DEFINE_STATIC (scm_bpf_uprobe_symbols, "%bpf-uprobe-symbols", 1, 0, 0,
                   (SCM target),
                   "Return the names of the functions that the uprobe "
                   "target glob @var{target}, @code{\"LIB:GLOB\"}, "
                   "matches (GLOB with @code{*}, @code{?} and "
                   "@code{[...]}), sorted, each once.  Raises "
                   "@code{ebpf-attach-error} for a missing binary.")
{
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 1, "uprobe target");
  char *colon = strrchr (t, ':');
  if (!colon)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:GLOB\", e.g. \"libc:pthread_mutex_*\"",
                 "bad uprobe target %s", t);
  *colon = 0;
  const char *bin = gebpf_uprobe_binary (t, FUNC_NAME, NULL);
  SCM r = gebpf_uprobe_symbols (bin, colon + 1, FUNC_NAME, NULL);
  scm_dynwind_end ();
  return r;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_uprobe
SCM_DEFINE_STATIC (scm_bpf_attach_uprobe, "%bpf-attach-uprobe", 4, 1, 0,
                   (SCM obj, SCM target, SCM pid, SCM retprobe, SCM cookie),
                   "Attach the uprobe program of @var{obj} to "
                   "@var{target}, @code{\"LIB:SYMBOL\"} (LIB a path, an "
                   "executable in PATH or a library of the dynamic "
                   "linker's cache; SYMBOL a function, "
                   "@code{SYM@@VERSION} or @code{0xOFFSET}), in process "
                   "@var{pid} (@code{#f}: every process), at the "
                   "function's return when @var{retprobe} is true, with "
                   "@var{cookie} for @code{bpf_get_attach_cookie}.  Return "
                   "a @code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "naming a missing binary, symbol or version.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a uprobe", BPF_PROG_TYPE_KPROBE,
             BPF_PROG_TYPE_KPROBE);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "uprobe target");
  bool ret = scm_is_true (retprobe);
  int p = pid_arg (pid, FUNC_NAME);
  uint64_t ck = cookie_arg (cookie, FUNC_NAME);
  char *lib = strdupa (t);
  char *colon = strrchr (lib, ':');
  if (!colon || colon == lib || !colon[1])
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:SYMBOL\", e.g. \"libc:malloc\" or "
                 "\"/usr/bin/bash:readline\"",
                 "bad uprobe target %s", t);
  *colon = 0;
  const char *sym = colon + 1;
  /* Resolved here, not by libbpf: library names, versions, and errors
     that say what is missing.  */
  char who[300];
  snprintf (who, sizeof who, "attaching %s", o->name);
  const char *bin = gebpf_uprobe_binary (lib, FUNC_NAME, who);
  size_t off = gebpf_uprobe_offset (bin, sym, FUNC_NAME, who);
  LIBBPF_OPTS (bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = ck);
  gebpf_libbpf_log_take ();
  struct bpf_link *link = bpf_program__attach_uprobe_opts
    (o->prog, p, bin, off, &uo);
  if (!link)
    {
      int err = errno;
      const char *log = gebpf_libbpf_log_take ();
      if (err == ESRCH)
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                         "give the pid of a running process",
                         "no process %d for %s on %s", p,
                         ret ? "uretprobe" : "uprobe", t);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to %s (%s at 0x%zx)",
                o->name, t, bin, off);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[600];
  if (p >= 0)
    snprintf (desc, sizeof desc, "%s pid %d", t, p);
  else
    snprintf (desc, sizeof desc, "%s", t);
  SCM l = libbpf_link (obj, o, ret ? "uretprobe" : "uprobe", desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_usdt
SCM_DEFINE_STATIC (scm_bpf_attach_usdt, "%bpf-attach-usdt", 3, 1, 0,
                   (SCM obj, SCM target, SCM pid, SCM cookie),
                   "Attach the usdt program of @var{obj} to the USDT "
                   "probe @var{target}, @code{\"LIB:PROVIDER:NAME\"} "
                   "(LIB as for uprobes), in process @var{pid} (@code{#f}: "
                   "every process), with @var{cookie} for "
                   "@code{bpf_usdt_cookie}.  A probe with a semaphore is "
                   "enabled by it.  Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing binary or "
                   "probe.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a usdt", BPF_PROG_TYPE_KPROBE,
             BPF_PROG_TYPE_KPROBE);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "usdt target");
  int p = pid_arg (pid, FUNC_NAME);
  uint64_t ck = cookie_arg (cookie, FUNC_NAME);
  char *lib = strdupa (t);
  char *name = strrchr (lib, ':');
  char *provider = NULL;
  if (name && name != lib)
    {
      *name++ = 0;
      provider = strrchr (lib, ':');
    }
  if (!provider || provider == lib || !provider[1] || !*name)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:PROVIDER:NAME\", e.g. "
                 "\"python3:python:function__entry\"; list a binary's "
                 "probes with readelf -n",
                 "bad usdt target %s", t);
  *provider++ = 0;
  char who[300];
  snprintf (who, sizeof who, "attaching %s", o->name);
  const char *bin = gebpf_uprobe_binary (lib, FUNC_NAME, who);
  LIBBPF_OPTS (bpf_usdt_opts, uo, .usdt_cookie = ck);
  gebpf_libbpf_log_take ();
  struct bpf_link *link = bpf_program__attach_usdt (o->prog, p, bin, provider,
                                                    name, &uo);
  if (!link)
    {
      int err = errno;
      const char *log = gebpf_libbpf_log_take ();
      if (err == ENOENT)
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                         "list the binary's probes with readelf -n (notes "
                         "stapsdt); a program's probes may be in its "
                         "shared library (e.g. libpython)",
                         "%s has no USDT probe %s:%s", bin, provider, name);
      if (err == ESRCH)
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                         "give the pid of a running process",
                         "no process %d for usdt %s", p, t);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to usdt %s", o->name, t);
      gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                       "see libbpf's log above",
                       "%s failed", what);
    }
  char desc[600];
  if (p >= 0)
    snprintf (desc, sizeof desc, "%s pid %d", t, p);
  else
    snprintf (desc, sizeof desc, "%s", t);
  SCM l = libbpf_link (obj, o, "usdt", desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

static int
iface_index (const char *name, const char *subr)
{
  unsigned idx = if_nametoindex (name);
  if (idx == 0)
    gebpf_error (gebpf_k_attach, subr, 0,
                 "check the name with `ip link' (interfaces belong to a "
                 "network namespace; this process sees its own)",
                 "no network interface named %s", name);
  return (int) idx;
}

static const struct gebpf_sym xdp_modes[] = {
  {"auto", 0}, {"native", XDP_FLAGS_DRV_MODE},
  {"generic", XDP_FLAGS_SKB_MODE}, {"offload", XDP_FLAGS_HW_MODE},
  {NULL, 0}
};

#define FUNC_NAME s_scm_bpf_attach_xdp
SCM_DEFINE_STATIC (scm_bpf_attach_xdp, "%bpf-attach-xdp", 3, 0, 0,
                   (SCM obj, SCM iface, SCM mode),
                   "Attach the XDP program of @var{obj} to network "
                   "interface @var{iface} through a kernel link, in "
                   "@var{mode}: @code{auto} (native, else generic), "
                   "@code{native}, @code{generic} or @code{offload}.  "
                   "Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing interface, "
                   "or when the interface already has an XDP program or "
                   "its driver lacks the mode.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "XDP", BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_XDP);
  scm_dynwind_begin (0);
  char *name = scm_string_arg (iface, FUNC_NAME, 2, "interface");
  long m = gebpf_sym_lookup (xdp_modes, mode, FUNC_NAME, "XDP mode");
  int ifindex = iface_index (name, FUNC_NAME);
  long tries[2] = { m, -1 };
  if (m == 0)
    {
      tries[0] = XDP_FLAGS_DRV_MODE;
      tries[1] = XDP_FLAGS_SKB_MODE;
    }
  int fd = -1, err = 0;
  long used = 0;
  for (int i = 0; i < 2 && tries[i] >= 0; i++)
    {
      LIBBPF_OPTS (bpf_link_create_opts, lo, .flags = (__u32) tries[i]);
      fd = bpf_link_create (o->prog_fd, ifindex, BPF_XDP, &lo);
      if (fd >= 0)
        {
          used = tries[i];
          break;
        }
      err = errno;
      if (err == EBUSY || err == EEXIST || err == EPERM || err == EACCES)
        break;                  /* generic would fail the same way */
    }
  if (fd < 0)
    {
      if (err == EBUSY || err == EEXIST)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "detach the other program first (ip link set dev "
                     "IFACE xdp off, or its owner's link)",
                     "interface %s already has an XDP program", name);
      if (err == EOPNOTSUPP || err == ENOTSUPP_ERRNO || err == EINVAL)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "use #:mode 'generic (works on every interface) or "
                     "'auto",
                     "interface %s cannot run XDP in %s mode", name,
                     gebpf_sym_name (xdp_modes, m));
      char what[300];
      snprintf (what, sizeof what, "attaching XDP program %s to %s",
                o->name, name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[300];
  snprintf (desc, sizeof desc, "%s %s", name,
            gebpf_sym_name (xdp_modes, used));
  struct part p = { .kind = PART_FD, .fd = fd };
  SCM l = make_link1 (obj, o, "xdp", desc, p);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

static const struct gebpf_sym tc_dirs[] = {
  {"ingress", BPF_TC_INGRESS}, {"egress", BPF_TC_EGRESS}, {NULL, 0}
};

#define FUNC_NAME s_scm_bpf_attach_tc
SCM_DEFINE_STATIC (scm_bpf_attach_tc, "%bpf-attach-tc", 3, 0, 0,
                   (SCM obj, SCM iface, SCM direction),
                   "Attach the tc program of @var{obj} to @var{iface} at "
                   "@var{direction} (@code{ingress} or @code{egress}) as a "
                   "direct-action filter of the clsact qdisc, creating the "
                   "qdisc if needed (and removing it at detach if it was "
                   "created here).  Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing interface.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "tc", BPF_PROG_TYPE_SCHED_CLS,
             BPF_PROG_TYPE_SCHED_ACT);
  scm_dynwind_begin (0);
  char *name = scm_string_arg (iface, FUNC_NAME, 2, "interface");
  long dir = gebpf_sym_lookup (tc_dirs, direction, FUNC_NAME,
                               "tc direction");
  int ifindex = iface_index (name, FUNC_NAME);
  LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = ifindex,
               .attach_point = (enum bpf_tc_attach_point) dir);
  int r = bpf_tc_hook_create (&hook);
  bool created = r == 0;
  if (r < 0 && r != -EEXIST)
    {
      char what[300];
      snprintf (what, sizeof what, "creating the clsact qdisc of %s", name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, -r,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  LIBBPF_OPTS (bpf_tc_opts, to, .prog_fd = o->prog_fd);
  r = bpf_tc_attach (&hook, &to);
  if (r < 0)
    {
      if (created)
        {
          hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
          bpf_tc_hook_destroy (&hook);
        }
      char what[300];
      snprintf (what, sizeof what, "attaching tc program %s to %s %s",
                o->name, name, gebpf_sym_name (tc_dirs, dir));
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, -r,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  struct part p = {
    .kind = PART_TC, .fd = -1, .ifindex = ifindex, .handle = to.handle,
    .priority = to.priority, .attach_point = (int) dir,
    .hook_created = created
  };
  char desc[300];
  snprintf (desc, sizeof desc, "%s %s", name, gebpf_sym_name (tc_dirs, dir));
  SCM l = make_link1 (obj, o, "tc", desc, p);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_cgroup
SCM_DEFINE_STATIC (scm_bpf_attach_cgroup, "%bpf-attach-cgroup", 2, 0, 0,
                   (SCM obj, SCM path),
                   "Attach the cgroup program of @var{obj} to the cgroup2 "
                   "directory @var{path}, at the hook chosen at load "
                   "(@code{#:attach-type} or SEC()).  Return a "
                   "@code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "naming a missing or non-cgroup2 path.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  if (!(o->type == BPF_PROG_TYPE_CGROUP_SKB
        || o->type == BPF_PROG_TYPE_CGROUP_SOCK
        || o->type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
        || o->type == BPF_PROG_TYPE_CGROUP_DEVICE
        || o->type == BPF_PROG_TYPE_CGROUP_SYSCTL
        || o->type == BPF_PROG_TYPE_CGROUP_SOCKOPT
        || o->type == BPF_PROG_TYPE_SOCK_OPS))
    need_type (o, FUNC_NAME, "a cgroup program", BPF_PROG_TYPE_CGROUP_SKB,
               BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
  scm_dynwind_begin (0);
  char *p = scm_string_arg (path, FUNC_NAME, 2, "cgroup path");
  int fd = open (p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int err = errno;
      gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                   "create it (mkdir under the cgroup2 mount, e.g. "
                   "/sys/fs/cgroup/NAME or /sys/fs/cgroup/unified/NAME) or "
                   "check the path",
                   "no cgroup directory %s", p);
    }
  struct statfs sf;
  if (fstatfs (fd, &sf) == 0 && sf.f_type != CGROUP2_SUPER_MAGIC)
    {
      close (fd);
      gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                   "give a directory of the cgroup2 hierarchy (mount -t "
                   "cgroup2 none DIR if there is none)",
                   "%s is not a cgroup2 directory", p);
    }
  struct bpf_link *link = bpf_program__attach_cgroup (o->prog, fd);
  int err = errno;
  close (fd);
  if (!link)
    {
      char what[600];
      snprintf (what, sizeof what, "attaching %s program %s to cgroup %s",
                o->kind_name, o->name, p);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  const char *at = attach_type_name (o->attach_type);
  char desc[600];
  snprintf (desc, sizeof desc, "%s %s", p, at ? at : "");
  SCM l = libbpf_link (obj, o, o->kind_name, desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_perf_event
SCM_DEFINE_STATIC (scm_bpf_attach_perf_event, "%bpf-attach-perf-event", 2,
                   0, 0, (SCM obj, SCM frequency),
                   "Attach the perf-event program of @var{obj} to a CPU "
                   "clock sampled @var{frequency} times a second on every "
                   "CPU (one kernel link per CPU, in one "
                   "@code{<bpf-link>}).  Raises @code{ebpf-attach-error} "
                   "when the frequency is refused, "
                   "@code{ebpf-permission-error} without CAP_PERFMON.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a perf event", BPF_PROG_TYPE_PERF_EVENT,
             BPF_PROG_TYPE_PERF_EVENT);
  if (!scm_is_unsigned_integer (frequency, 1, UINT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give #:frequency in Hz, e.g. 99",
                 "bad #:frequency %s (between 1 and 2^32-1 Hz)",
                 gebpf_repr (frequency));
  uint64_t hz = scm_to_uint64 (frequency);
  int ncpu = gebpf_nr_cpus ();
  struct part *parts = calloc ((size_t) (ncpu > 0 ? ncpu : 1), sizeof *parts);
  size_t n = 0;
  int err = 0, bad_cpu = -1;
  for (int cpu = 0; cpu < ncpu; cpu++)
    {
      struct perf_event_attr attr;
      memset (&attr, 0, sizeof attr);
      attr.type = PERF_TYPE_SOFTWARE;
      attr.size = sizeof attr;
      attr.config = PERF_COUNT_SW_CPU_CLOCK;
      attr.sample_freq = hz;
      attr.freq = 1;
      int pfd = (int) syscall (__NR_perf_event_open, &attr, -1, cpu, -1,
                               PERF_FLAG_FD_CLOEXEC);
      if (pfd < 0)
        {
          if (errno == ENODEV || errno == ENXIO)
            continue;           /* an offline CPU */
          err = errno;
          bad_cpu = cpu;
          break;
        }
      struct bpf_link *link = bpf_program__attach_perf_event (o->prog, pfd);
      if (!link)
        {
          err = errno;
          bad_cpu = cpu;
          close (pfd);
          break;
        }
      parts[n].kind = PART_LIBBPF;
      parts[n].link = link;
      parts[n].fd = -1;
      n++;
    }
  if (err || n == 0)
    {
      for (size_t i = 0; i < n; i++)
        part_destroy (&parts[i]);
      free (parts);
      if (err == EINVAL)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "lower #:frequency below "
                     "/proc/sys/kernel/perf_event_max_sample_rate",
                     "the kernel refused sampling at %llu Hz",
                     (unsigned long long) hz);
      char what[300];
      snprintf (what, sizeof what, "attaching perf-event program %s on "
                "CPU %d", o->name, bad_cpu);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err ? err : ENODEV,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[128];
  snprintf (desc, sizeof desc, "%llu Hz on %zu CPU%s",
            (unsigned long long) hz, n, n == 1 ? "" : "s");
  return make_link (obj, o, "perf-event", desc, parts, n);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_socket
SCM_DEFINE_STATIC (scm_bpf_attach_socket, "%bpf-attach-socket", 2, 0, 0,
                   (SCM obj, SCM fd),
                   "Attach the socket-filter program of @var{obj} to the "
                   "socket whose file descriptor is @var{fd} "
                   "(SO_ATTACH_BPF).  Return a @code{<bpf-link>}; "
                   "destroying it detaches the filter if the socket is "
                   "still open.  Raises @code{ebpf-attach-error} if "
                   "@var{fd} is not a socket.")
{
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a socket filter", BPF_PROG_TYPE_SOCKET_FILTER,
             BPF_PROG_TYPE_SOCKET_FILTER);
  if (!scm_is_signed_integer (fd, 0, INT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass a socket's port or file descriptor",
                 "argument 2 is not a file descriptor (between 0 and "
                 "2^31-1): %s", gebpf_repr (fd));
  int s = scm_to_int (fd);
  struct stat st;
  if (fstat (s, &st) < 0 || !S_ISSOCK (st.st_mode))
    gebpf_error (gebpf_k_attach, FUNC_NAME, errno ? errno : ENOTSOCK,
                 "pass an open socket",
                 "file descriptor %d is not a socket", s);
  if (setsockopt (s, SOL_SOCKET, SO_ATTACH_BPF, &o->prog_fd,
                  sizeof o->prog_fd) < 0)
    {
      char what[300];
      snprintf (what, sizeof what, "attaching socket filter %s to fd %d",
                o->name, s);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, errno,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  struct part p = { .kind = PART_SOCKET, .fd = s, .dev = st.st_dev,
    .ino = st.st_ino };
  char desc[64];
  snprintf (desc, sizeof desc, "socket fd %d", s);
  return make_link1 (obj, o, "socket-filter", desc, p);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_update_x
SCM_DEFINE_STATIC (scm_bpf_link_update_x, "%bpf-link-update!", 2, 0, 0,
                   (SCM link, SCM obj),
                   "Replace the program behind @var{link} by the program of "
                   "@var{obj} atomically (no event missed or seen twice), "
                   "where the kind of link allows it: XDP, tc, cgroup, "
                   "socket filter.  Raises @code{ebpf-attach-error} when "
                   "the link is destroyed, the kinds differ, or the kernel "
                   "cannot update this kind of link.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  struct gebpf_object *o = object_live (obj, FUNC_NAME, 2);
  if (!l->live)
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0, "attach the object instead",
                 "the %s link to %s was destroyed", l->kind, l->target);
  if (o->type != l->type
      || ((o->type == BPF_PROG_TYPE_TRACING || o->type == BPF_PROG_TYPE_LSM
           || o->type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
           || o->type == BPF_PROG_TYPE_CGROUP_SOCK)
          && o->attach_type != l->attach_type))
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                 "replace a program by one of the same kind (and hook)",
                 "cannot replace %s program %s by %s program %s",
                 l->kind, l->prog_name, o->kind_name, o->name);
  for (size_t i = 0; i < l->nparts; i++)
    {
      struct part *p = &l->parts[i];
      int r = 0, err = 0;
      switch (p->kind)
        {
        case PART_LIBBPF:
          r = bpf_link__update_program (p->link, o->prog);
          err = r < 0 ? -r : 0;
          break;
        case PART_FD:
          r = bpf_link_update (p->fd, o->prog_fd, NULL);
          err = r < 0 ? errno : 0;
          break;
        case PART_TC:
          {
            LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = p->ifindex,
                         .attach_point = p->attach_point);
            LIBBPF_OPTS (bpf_tc_opts, to, .prog_fd = o->prog_fd,
                         .handle = p->handle, .priority = p->priority,
                         .flags = BPF_TC_F_REPLACE);
            r = bpf_tc_attach (&hook, &to);
            err = r < 0 ? -r : 0;
            break;
          }
        case PART_SOCKET:
          r = setsockopt (p->fd, SOL_SOCKET, SO_ATTACH_BPF, &o->prog_fd,
                          sizeof o->prog_fd);
          err = r < 0 ? errno : 0;
          break;
        }
      if (err)
        {
          if (err == EOPNOTSUPP || err == ENOTSUPP_ERRNO || err == EINVAL)
            gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                         "destroy the link and attach the new object (events "
                         "in between are missed), or attach once a "
                         "dispatcher that tail-calls through a prog-array",
                         "a %s link cannot replace its program in place",
                         l->kind);
          char what[300];
          snprintf (what, sizeof what, "replacing the program of the %s "
                    "link to %s", l->kind, l->target);
          gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                               scm_gc_strdup (what, "gebpf"),
                               "see the errno above");
        }
    }
  free (l->prog_name);
  l->prog_name = strdup (o->name);
  scm_foreign_object_set_x (link, 1, (void *) SCM_UNPACK (obj));
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_destroy_x
SCM_DEFINE_STATIC (scm_bpf_link_destroy_x, "%bpf-link-destroy!", 1, 0, 0,
                   (SCM link),
                   "Detach @var{link} and release it.  Idempotent.  Raises "
                   "@code{ebpf-validation-error} if @var{link} is not a "
                   "@code{<bpf-link>}.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  link_destroy (l);
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_p
SCM_DEFINE_STATIC (scm_bpf_link_p, "%bpf-link?", 1, 0, 0, (SCM obj),
                   "Return @code{#t} if @var{obj} is a @code{<bpf-link>}, "
                   "live or destroyed.  Raises nothing.")
{
  return scm_from_bool (GEBPF_IS (obj, gebpf_link_type));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_meta
SCM_DEFINE_STATIC (scm_bpf_link_meta, "%bpf-link-meta", 1, 0, 0, (SCM link),
                   "Return a vector #(KIND TARGET PROGRAM-NAME OBJECT LIVE? "
                   "FDS) describing @var{link}; FDS lists the kernel link "
                   "fds it holds.  Raises @code{ebpf-validation-error} if "
                   "@var{link} is not a @code{<bpf-link>}.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  SCM fds = SCM_EOL;
  if (l->live)
    for (size_t i = l->nparts; i-- > 0;)
      {
        struct part *p = &l->parts[i];
        int fd = p->kind == PART_LIBBPF ? bpf_link__fd (p->link)
          : p->kind == PART_FD ? p->fd : -1;
        if (fd >= 0)
          fds = scm_cons (scm_from_int (fd), fds);
      }
  SCM v = scm_c_make_vector (6, SCM_BOOL_F);
  scm_c_vector_set_x (v, 0, scm_from_utf8_symbol (l->kind));
  scm_c_vector_set_x (v, 1, scm_from_utf8_string (l->target));
  scm_c_vector_set_x (v, 2, scm_from_utf8_string (l->prog_name));
  SCM object = SCM_PACK ((scm_t_bits) scm_foreign_object_ref (link, 1));
  scm_c_vector_set_x (v, 3, object);
  scm_c_vector_set_x (v, 4, scm_from_bool (l->live));
  scm_c_vector_set_x (v, 5, fds);
  return v;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_tc_filters
SCM_DEFINE_STATIC (scm_bpf_link_tc_filters, "%bpf-link-tc-filters", 1, 0, 0,
                   (SCM link),
                   "Return the tc filters @var{link} holds, as a list of "
                   "vectors #(IFINDEX DIRECTION HANDLE PRIORITY), "
                   "DIRECTION @code{ingress} or @code{egress}: what it "
                   "takes to find and remove a filter that outlives its "
                   "process.  Raises @code{ebpf-validation-error} if "
                   "@var{link} is not a @code{<bpf-link>}.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  SCM out = SCM_EOL;
  if (l->live)
    for (size_t i = l->nparts; i-- > 0;)
      {
        struct part *p = &l->parts[i];
        if (p->kind != PART_TC || !p->handle)
          continue;
        out = scm_cons (scm_vector
                        (scm_list_4 (scm_from_int (p->ifindex),
                                     scm_from_utf8_symbol
                                     (p->attach_point == BPF_TC_EGRESS
                                      ? "egress" : "ingress"),
                                     scm_from_uint32 (p->handle),
                                     scm_from_uint32 (p->priority))),
                        out);
      }
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_links
SCM_DEFINE_STATIC (scm_bpf_links, "%bpf-links", 0, 0, 0, (),
                   "Return the live links of this process, newest first.  "
                   "Raises nothing.")
{
  /* Collect first: consing may run the GC, never under the lock.  */
  size_t n = 0, cap = 16;
  SCM *v = NULL;
  for (;;)
    {
      v = scm_gc_malloc (cap * sizeof *v, "gebpf-links");
      pthread_mutex_lock (&links_lock);
      n = 0;
      for (struct gebpf_link *l = live_links; l; l = l->next)
        if (n < cap)
          v[n++] = l->self;
        else
          n = cap + 1;
      pthread_mutex_unlock (&links_lock);
      if (n <= cap)
        break;
      cap *= 4;
    }
  SCM out = SCM_EOL;
  for (size_t i = n; i-- > 0;)
    out = scm_cons (v[i], out);
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_detach_all_x
SCM_DEFINE_STATIC (scm_bpf_detach_all_x, "%bpf-detach-all!", 0, 0, 0, (),
                   "Destroy every live link of this process; return how "
                   "many there were.  Raises nothing.")
{
  size_t n = 0;
  for (;;)
    {
      pthread_mutex_lock (&links_lock);
      struct gebpf_link *l = live_links;
      pthread_mutex_unlock (&links_lock);
      if (!l)
        break;
      link_destroy (l);
      n++;
    }
  return scm_from_size_t (n);
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* Pins of programs and links, and releasing a map's kernel object: what
   policies need to outlive the process that applies them, and to undo a
   half-done apply.                                                      */

#define FUNC_NAME s_scm_bpf_fd_pin_x
SCM_DEFINE_STATIC (scm_bpf_fd_pin_x, "%bpf-fd-pin!", 2, 0, 0,
                   (SCM fd, SCM path),
                   "Pin the BPF object (program, link or map) behind the "
                   "file descriptor @var{fd} at @var{path}, a file to be "
                   "created under bpffs, mounting bpffs at /sys/fs/bpf if "
                   "it is missing.  The object then lives until the pin is "
                   "removed (unlinked) and nothing else holds it.  Return "
                   "@var{path}.  Raises @code{ebpf-error} when the kernel "
                   "refuses (the path exists, is not on bpffs, or its "
                   "directory is missing), @code{ebpf-permission-error} "
                   "without privilege.")
{
  if (!scm_is_signed_integer (fd, 0, INT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the fd of a loaded program or a live link",
                 "argument 1 is not a file descriptor (between 0 and "
                 "2^31-1): %s", gebpf_repr (fd));
  if (!scm_is_string (path))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the pin's path as a string under /sys/fs/bpf",
                 "bad pin path %s", gebpf_repr (path));
  scm_dynwind_begin (0);
  char *p = scm_to_utf8_string (path);
  scm_dynwind_free (p);
  int r = gebpf_ensure_bpffs ();
  if (r < 0)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, -r,
                         "mounting bpffs at /sys/fs/bpf",
                         "mount it: mount -t bpf bpffs /sys/fs/bpf");
  if (bpf_obj_pin (scm_to_int (fd), p) < 0)
    {
      int err = errno;
      char what[600];
      snprintf (what, sizeof what, "pinning fd %d at %s", scm_to_int (fd), p);
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           strncmp (p, "/sys/fs/bpf/", 12) != 0
                           ? "pin under /sys/fs/bpf (a bpffs mount); other "
                           "file systems cannot hold BPF objects"
                           : "choose a path under /sys/fs/bpf that does not "
                           "exist yet, in a directory that does");
    }
  scm_dynwind_end ();
  return path;
}
#undef FUNC_NAME

/* What kind of BPF object FD is, from /proc/self/fdinfo: 'p'rogram,
   'm'ap, 'l'ink, or 0.  */
static char
bpf_fd_kind (int fd)
{
  char file[64], line[256];
  snprintf (file, sizeof file, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen (file, "re");
  if (!f)
    return 0;
  char kind = 0;
  while (!kind && fgets (line, sizeof line, f))
    if (strncmp (line, "prog_type:", 10) == 0)
      kind = 'p';
    else if (strncmp (line, "map_type:", 9) == 0)
      kind = 'm';
    else if (strncmp (line, "link_type:", 10) == 0)
      kind = 'l';
  fclose (f);
  return kind;
}

#define FUNC_NAME s_scm_bpf_pinned_info
SCM_DEFINE_STATIC (scm_bpf_pinned_info, "%bpf-pinned-info", 1, 0, 0,
                   (SCM path),
                   "Return what is pinned at @var{path} as an alist whose "
                   "@code{type} is @code{program}, @code{map} or "
                   "@code{link}: for a program the fields of "
                   "@code{bpf-programs}; for a map @code{id}, @code{name}, "
                   "@code{kind}, @code{key-size}, @code{value-size}, "
                   "@code{max-entries}; for a link @code{id}, "
                   "@code{link-kind} and @code{program-id}.  Return "
                   "@code{#f} when nothing is pinned there.  Raises "
                   "@code{ebpf-error} for a path that exists but holds no "
                   "BPF object, @code{ebpf-permission-error} without "
                   "privilege.")
{
  if (!scm_is_string (path))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the pin's path as a string",
                 "bad path %s", gebpf_repr (path));
  scm_dynwind_begin (0);
  char *p = scm_to_utf8_string (path);
  scm_dynwind_free (p);
  int fd = bpf_obj_get (p);
  if (fd < 0)
    {
      int err = errno;
      if (err == ENOENT)
        {
          scm_dynwind_end ();
          return SCM_BOOL_F;
        }
      char what[600];
      snprintf (what, sizeof what, "opening the pin %s", p);
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "check the path is a pin under a bpffs mount");
    }
  char kind = bpf_fd_kind (fd);
  SCM out = SCM_BOOL_F;
  int err = 0;
  if (kind == 'p')
    {
      enable_stats ();
      struct bpf_prog_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
        err = errno;
      else
        {
          char buf[64];
          const char *kn = kind_name_of_type (info.type, -2, buf, sizeof buf);
          out = scm_cons (scm_cons (SYM ("type"), SYM ("program")),
                          prog_info_alist (&info, kn));
        }
    }
  else if (kind == 'm')
    {
      struct bpf_map_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
        err = errno;
      else
        {
          const char *mk = libbpf_bpf_map_type_str (info.type);
          out = scm_list_n
            (scm_cons (SYM ("type"), SYM ("map")),
             scm_cons (SYM ("id"), scm_from_uint32 (info.id)),
             scm_cons (SYM ("name"), scm_from_utf8_string (info.name)),
             scm_cons (SYM ("kind"), scm_from_utf8_string (mk ? mk : "?")),
             scm_cons (SYM ("key-size"), scm_from_uint32 (info.key_size)),
             scm_cons (SYM ("value-size"), scm_from_uint32 (info.value_size)),
             scm_cons (SYM ("max-entries"),
                       scm_from_uint32 (info.max_entries)),
             SCM_UNDEFINED);
        }
    }
  else if (kind == 'l')
    {
      struct bpf_link_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
        err = errno;
      else
        {
          const char *lk = libbpf_bpf_link_type_str (info.type);
          out = scm_list_4
            (scm_cons (SYM ("type"), SYM ("link")),
             scm_cons (SYM ("id"), scm_from_uint32 (info.id)),
             scm_cons (SYM ("link-kind"),
                       scm_from_utf8_string (lk ? lk : "unknown")),
             scm_cons (SYM ("program-id"), scm_from_uint32 (info.prog_id)));
        }
    }
  close (fd);
  if (err)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                         "reading the pinned object's info",
                         "see the errno above");
  if (!kind)
    gebpf_error (gebpf_k_error, FUNC_NAME, 0,
                 "give the path of a pinned program, map or link",
                 "%s holds no BPF program, map or link", p);
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_release_x
SCM_DEFINE_STATIC (scm_bpf_map_release_x, "%bpf-map-release!", 1, 0, 0,
                   (SCM map),
                   "Close this process's fd of the declared @var{map} "
                   "without closing the declaration: the kernel map goes "
                   "when nothing else (program, pin, other fd) holds it, "
                   "and the next use of @var{map} creates a fresh, empty "
                   "one.  This undoes a creation.  Return @code{#t} if an "
                   "fd was closed.  Raises @code{ebpf-map-error} for an "
                   "unknown map name.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  if (m->fd < 0)
    return SCM_BOOL_F;
  close (m->fd);
  m->fd = -1;
  return SCM_BOOL_T;
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */

void
gebpf_init_program (void)
{
  gebpf_object_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-object"),
                                  scm_list_2 (scm_from_utf8_symbol ("ptr"),
                                              scm_from_utf8_symbol ("maps")),
                                  finalize_object);
  scm_c_define ("<bpf-object>", gebpf_object_type);
  gebpf_link_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-link"),
                                  scm_list_2 (scm_from_utf8_symbol ("ptr"),
                                              scm_from_utf8_symbol ("object")),
                                  finalize_link);
  scm_c_define ("<bpf-link>", gebpf_link_type);
#ifndef SCM_MAGIC_SNARFER
#include "program.x"
#endif
}
