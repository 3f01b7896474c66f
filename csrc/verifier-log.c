/* verifier-log.c --- the verifier's log made readable: its source
   annotations rewritten through the Scheme line map, and the summary an
   ebpf-verifier-error carries (the refusal, its nearest annotation and a
   "Fix:" hint for the refusals we know).

   Pure text work on a log the loader (program.c) already has, so it is
   apart from the libbpf calls that produce the log.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gebpf.h"
#include "buf.h"
#include "object.h"

/* Lines of verifier log kept in an error's summary.  */
#define SUMMARY_LINES 8

/* ------------------------------------------------------------------ */
/* The verifier log: annotations through the line map, and a summary.   */

/* Rewrite the verifier's source annotations "; TEXT @ FILE:N" whose N has
   a string in LINE_MAP (a vector indexed by line number) into "; STRING",
   so that the log names the Scheme form and its .scm line.  Headers' lines
   (FILE ending in .h) are left alone.  Returns a malloc'ed string.  */
char *
gebpf_rewrite_log (const char *log, SCM line_map)
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
SCM_NORETURN void
gebpf_verifier_error (const char *subr, const char *name, const char *kind,
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

