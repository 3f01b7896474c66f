;;; (ebpf program) --- loaded BPF objects, their links, test runs.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; The object layer under defbpf-program: load one program of a compiled
;;; BPF object (sharing the declared maps, setting its constants), attach
;;; it, run it on a packet, read the kernel's statistics.  The raw
;;; primitives are in the C core (csrc/program.c, object-info.c, link.c,
;;; attach.c); this module gives them keyword arguments, documentation
;;; and printers.
;;;
;;; Lifetimes are explicit: a link stays attached until
;;; bpf-link-destroy! or bpf-detach-all!, even when nothing refers to it
;;; any more, and a link keeps its program in the kernel after
;;; bpf-object-close!.

(define-module (ebpf program)
  #:use-module ((ebpf core) #:select (<bpf-object> <bpf-link>
                                      %bpf-object-load %bpf-object-close!
                                      %bpf-object? %bpf-object-meta
                                      %bpf-object-info %bpf-programs
                                      %bpf-test-run %bpf-attach-tracepoint
                                      %bpf-attach-raw-tracepoint
                                      %bpf-attach-trace %bpf-attach-kprobe
                                      %bpf-attach-uprobe %bpf-attach-usdt
                                      %bpf-uprobe-resolve %bpf-attach-xdp
                                      %bpf-attach-tc %bpf-attach-cgroup
                                      %bpf-attach-perf-event
                                      %bpf-attach-socket %bpf-link-update!
                                      %bpf-link-destroy! %bpf-link?
                                      %bpf-link-meta %bpf-links
                                      %bpf-detach-all! %bpf-enable-stats!))
  #:use-module (ebpf error)
  #:use-module ((ebpf kernel) #:select (kind-names kind-ref kind-flag?))
  #:use-module ((srfi srfi-1) #:select (find))
  #:use-module (srfi srfi-9)
  #:use-module ((srfi srfi-9 gnu) #:select (set-record-type-printer!))
  #:use-module ((rnrs bytevectors) #:select (bytevector-length))
  #:use-module (oop goops)
  #:re-export (<bpf-object> <bpf-link>)
  #:export (bpf-object-load bpf-object-close! bpf-object?
            bpf-object-fd bpf-object-name bpf-object-kind bpf-object-id
            bpf-object-path bpf-object-section bpf-object-digest
            bpf-object-verifier-log bpf-object-closed? bpf-object-attach-type
            bpf-object-target bpf-object-maps bpf-object-info
            bpf-object-attach bpf-attach-socket! bpf-resolve-uprobe
            bpf-link? bpf-link-kind bpf-link-target bpf-link-program-name
            bpf-link-object bpf-link-live? bpf-link-fds
            bpf-link-destroy! bpf-link-update! bpf-links bpf-detach-all!
            bpf-programs bpf-object-kinds
            bpf-test-run <bpf-run-result> bpf-run-result?
            bpf-run-result-retval bpf-run-result-verdict
            bpf-run-result-data bpf-run-result-duration-ns
            bpf-enable-stats! bpf-disable-stats!))

(define bpf-object-kinds
  ;; The kernel model's kinds (csrc/kernel/kinds.c).
  (kind-names))

(define (bpf-enable-stats!)
  "Turn on the kernel's BPF run-time statistics (run counts and run times
of every program, read by @code{bpf-program-stats} and
@code{bpf-object-info}) for as long as this process runs or until
@code{bpf-disable-stats!}.  They cost every run of every BPF program on
the machine a little time, so guile-ebpf turns them on only when asked:
here, or at the first reading of a program's statistics.  Returns whether
they were already on."
  (%bpf-enable-stats! #t))

(define (bpf-disable-stats!)
  "Release this process's hold on the kernel's BPF run-time statistics."
  (%bpf-enable-stats! #f))

;;; Loading.

(define* (bpf-object-load path #:key kind name (constants '()) line-map
                          attach-type target (log-level 0))
  "Load one program of the compiled BPF object file @var{path} into the
kernel and return a @code{<bpf-object>}.

@var{kind} (a symbol of @code{bpf-object-kinds}) is checked against the
program's @code{SEC()}, or sets its type when the section does not say.
@var{name} chooses the program (default: the first in the object); only
that one is loaded.  @var{constants} is an alist @code{((NAME . INTEGER)
...)} of @code{const volatile} variables of the object to set before
load.  @var{line-map}, a vector indexed by C line number of @code{#f} or
strings, replaces the verifier log's annotations of those lines (so a log
can name Scheme forms).  @var{attach-type} chooses the hook of a cgroup
program (@code{ingress}, @code{egress}, @code{connect4} ...), which the
kernel fixes at load.  @var{target} is the kernel function, LSM hook or
BTF tracepoint of a tp-btf, fentry, fexit, fmod-ret or lsm program when
its @code{SEC()} does not name it.  With @var{log-level} 1 (or 2, 4) the
verifier's log of a successful load is kept (see
@code{bpf-object-verifier-log}).

Every map of the object that was declared with @code{defbpf-map} (names
match with @code{-} and @code{_} as one character) is the declared kernel
map, shared by every program that names it; the others are private to the
object.  Loading leaves the kernel's run-time statistics as they are: they
are turned on by @code{bpf-enable-stats!} or by the first reading of a
program's statistics (@code{bpf-object-info}).

Raises @code{ebpf-verifier-error} (a summary; the whole log is under
@code{log} in @code{ebpf-error-details}), @code{ebpf-permission-error},
@code{ebpf-attach-error} (a kernel that refuses trampolines; a missing BTF
target), @code{ebpf-map-error}, @code{ebpf-validation-error} or
@code{ebpf-error}."
  (%bpf-object-load path #:kind kind #:name name #:constants constants
                    #:line-map line-map #:attach-type attach-type
                    #:target target #:log-level log-level))

(define (bpf-object-close! obj)
  "Close @var{obj}: its program and private maps are released.  Idempotent.
Links attached from @var{obj} stay attached until they are destroyed."
  (%bpf-object-close! obj))

(define (bpf-object? obj)
  "Return @code{#t} if @var{obj} is a @code{<bpf-object>} (loaded or
closed)."
  (%bpf-object? obj))

(define (meta obj i) (vector-ref (%bpf-object-meta obj) i))

(define (bpf-object-name obj)
  "Return the name of the program of @var{obj} (its C function name)."
  (meta obj 0))
(define (bpf-object-kind obj)
  "Return the kind of the program of @var{obj}, a symbol such as
@code{xdp} or @code{tracepoint}."
  (meta obj 1))
(define (bpf-object-fd obj)
  "Return the program fd of @var{obj}, or @code{#f} once it is closed."
  (meta obj 2))
(define (bpf-object-id obj)
  "Return the kernel's id of the program of @var{obj}."
  (meta obj 3))
(define (bpf-object-path obj)
  "Return the file @var{obj} was loaded from."
  (meta obj 4))
(define (bpf-object-section obj)
  "Return the ELF section (@code{SEC()}) of the program of @var{obj}."
  (meta obj 5))
(define (bpf-object-digest obj)
  "Return the sha256 of the object file @var{obj} was loaded from, as 64
hex digits: the attestation of what runs."
  (meta obj 6))
(define (bpf-object-verifier-log obj)
  "Return the verifier log kept when @var{obj} was loaded with a
@code{#:log-level}, or @code{#f}.  (A rejected load carries its log in the
error instead.)"
  (meta obj 7))
(define (bpf-object-closed? obj)
  "Return @code{#t} if @var{obj} was closed."
  (meta obj 8))
(define (bpf-object-attach-type obj)
  "Return the hook of a cgroup program (@code{ingress}, @code{connect4}
...), or @code{#f}."
  (meta obj 9))
(define (bpf-object-target obj)
  "Return the BTF target fixed at load of a tp-btf, fentry, fexit,
fmod-ret or lsm program, or @code{#f}."
  (meta obj 10))
(define (bpf-object-maps obj)
  "Return the names of the declared maps that @var{obj} shares."
  (meta obj 11))

(define (bpf-object-info obj)
  "Return the kernel's view of the program of @var{obj} as an alist:
@code{id}, @code{name}, @code{kind}, @code{tag}, @code{run-count},
@code{run-time-ns}, @code{xlated-insns}, @code{jited-bytes},
@code{verified-insns}, @code{map-count}, @code{uid},
@code{gpl-compatible}, @code{digest},
@code{path}, @code{section} and @code{maps}."
  (%bpf-object-info obj))

(define* (bpf-programs #:key all?)
  "Return every BPF program the kernel holds (as @command{bpftool prog}
lists them): a list of alists with @code{id}, @code{name}, @code{kind},
@code{tag}, @code{run-count}, @code{run-time-ns}, @code{xlated-insns},
@code{jited-bytes}, @code{verified-insns}, @code{map-count}, @code{uid}
and @code{gpl-compatible}.  guile-ebpf's dispatcher stubs (@code{gebpf_slot_@dots{}})
are left out unless @code{#:all? #t}."
  (let ((progs (%bpf-programs)))
    (if all?
        progs
        (filter (lambda (p)
                  (not (string-prefix? "gebpf_slot" (or (assq-ref p 'name) ""))))
                progs))))

;;; Attaching.

(define (attach-error fmt . args)
  (raise-ebpf-error 'ebpf-validation-error 'bpf-object-attach
                    (apply format #f fmt args)
                    #:fix "see the attach targets of each kind in the manual (Programs)"))

(define (need-target kind target what)
  (unless (or (string? target) (symbol? target))
    (raise-ebpf-error 'ebpf-validation-error 'bpf-object-attach
                      (format #f "a ~a program needs #:target (~a)" kind what)
                      #:fix (format #f "pass #:target ~a" what))))

(define (enum-symbol v)
  ;; 'x, #:x and :x all name x.
  (cond ((keyword? v) (keyword->symbol v))
        ((and (symbol? v) (string-prefix? ":" (symbol->string v))
              (> (string-length (symbol->string v)) 1))
         (string->symbol (substring (symbol->string v) 1)))
        ((string? v) (string->symbol v))
        (else v)))

(define* (bpf-object-attach obj #:key kind target (mode 'auto) direction
                            pid cookie (frequency 99))
  "Attach the program of @var{obj} and return a @code{<bpf-link>}, which
stays attached until @code{bpf-link-destroy!} or @code{bpf-detach-all!}.
@var{kind} defaults to the object's kind; the other keywords depend on it:

@itemize
@item @code{xdp}: @var{target} an interface name; @var{mode}
@code{auto} (native, else generic), @code{native} or @code{generic}.
@item @code{tc}: @var{target} an interface; @var{direction}
@code{ingress} (default) or @code{egress}.
@item @code{cgroup-skb}, @code{cgroup-sock-addr}, @code{cgroup-sock}:
@var{target} a cgroup2 directory; the hook was chosen at load
(@code{#:attach-type}); @var{direction}, if given, must agree with it.
@item @code{tracepoint}: @var{target} @code{\"CATEGORY/NAME\"} or
@code{\"CATEGORY:NAME\"}; @var{cookie} a 64-bit value for
@code{bpf_get_attach_cookie}.
@item @code{raw-tracepoint}: @var{target} the tracepoint's name.
@item @code{tp-btf}, @code{fentry}, @code{fexit}, @code{fmod-ret},
@code{lsm}: no target here (it is fixed at load).
@item @code{kprobe}, @code{kretprobe}: @var{target} a kernel function;
@var{cookie} as for tracepoints.
@item @code{uprobe}, @code{uretprobe}: @var{target}
@code{\"LIB:SYMBOL\"}, LIB a path, an executable in PATH or a library
of the dynamic linker's cache (@code{\"libc\"}), SYMBOL a function (its
default version), @code{SYM@@VERSION} or @code{0xOFFSET}; @var{pid} a
process, or every one; @var{cookie} as for tracepoints.
@item @code{usdt}: @var{target} @code{\"LIB:PROVIDER:NAME\"}; @var{pid}
and @var{cookie} (read with @code{bpf_usdt_cookie}) as for uprobes.
@item @code{perf-event}: @var{frequency} in Hz (default 99), every CPU,
on the CPU clock; or @var{target} an event as bpftrace spells it,
@code{\"software:page-faults:100\"} (every 100 faults) or
@code{\"hardware:cycles\"}.
@item @code{socket-filter}: use @code{bpf-attach-socket!}.
@end itemize

Raises @code{ebpf-attach-error} naming a missing interface, tracepoint,
cgroup or binary, @code{ebpf-permission-error}, or
@code{ebpf-validation-error}."
  (let* ((kind (enum-symbol (or kind (bpf-object-kind obj))))
         (attach (and (symbol? kind)
                      (assq-ref attach-functions (kind-ref kind 'attach)))))
    (if attach
        (attach obj kind target
                `((mode . ,mode) (direction . ,direction) (pid . ,pid)
                  (cookie . ,cookie) (frequency . ,frequency)))
        (attach-error "cannot attach a program of kind ~s; the kinds are ~a"
                      kind bpf-object-kinds))))

;; One procedure per attach function of the kernel model (its `attach'
;; column): (PROC OBJECT KIND TARGET OPTIONS), OPTIONS the keywords of
;; bpf-object-attach as an alist.  A kind is attached by its row alone:
;; what a target is (`target') and whether it probes a return (`return'
;; flag) come from the table too.
(define (target-of kind target)
  (need-target kind target (kind-ref kind 'target))
  target)

(define attach-functions
  `((xdp . ,(lambda (obj kind target o)
              (%bpf-attach-xdp obj (target-of kind target)
                               (enum-symbol (assq-ref o 'mode)))))
    (tc . ,(lambda (obj kind target o)
             (%bpf-attach-tc obj (target-of kind target)
                             (enum-symbol (or (assq-ref o 'direction)
                                              'ingress)))))
    (cgroup
     . ,(lambda (obj kind target o)
          (target-of kind target)
          (let ((hook (bpf-object-attach-type obj))
                (direction (assq-ref o 'direction)))
            (when (and direction hook
                       (not (eq? (enum-symbol direction) hook)))
              (raise-ebpf-error
               'ebpf-validation-error 'bpf-object-attach
               (format #f "program ~a was loaded for the ~a hook, not ~a"
                       (bpf-object-name obj) hook (enum-symbol direction))
               #:fix "load it with #:attach-type for that hook (the kernel fixes the hook at load)"))
            (%bpf-attach-cgroup obj target))))
    (tracepoint . ,(lambda (obj kind target o)
                     (%bpf-attach-tracepoint obj (target-of kind target)
                                             (assq-ref o 'cookie))))
    (raw-tracepoint . ,(lambda (obj kind target o)
                         (%bpf-attach-raw-tracepoint
                          obj (target-of kind target))))
    ;; The BTF target was fixed at load.
    (trace . ,(lambda (obj kind target o) (%bpf-attach-trace obj)))
    (kprobe . ,(lambda (obj kind target o)
                 (%bpf-attach-kprobe obj (target-of kind target)
                                     (kind-flag? kind 'return)
                                     (assq-ref o 'cookie))))
    (uprobe . ,(lambda (obj kind target o)
                 (%bpf-attach-uprobe obj (target-of kind target)
                                     (assq-ref o 'pid)
                                     (kind-flag? kind 'return)
                                     (assq-ref o 'cookie))))
    (usdt . ,(lambda (obj kind target o)
               (%bpf-attach-usdt obj (target-of kind target)
                                 (assq-ref o 'pid) (assq-ref o 'cookie))))
    (perf-event . ,(lambda (obj kind target o)
                     (if target
                         (let ((ev (bpf-perf-event-spec target)))
                           (%bpf-attach-perf-event
                            obj (assq-ref ev 'count)
                            (if (eq? (assq-ref ev 'class) 'hardware) 0 1)
                            (assq-ref ev 'config) (assq-ref ev 'name)))
                         (%bpf-attach-perf-event obj (assq-ref o 'frequency)))))
    (socket . ,(lambda (obj kind target o)
                 (raise-ebpf-error 'ebpf-validation-error 'bpf-object-attach
                                   "a socket filter is attached to a socket"
                                   #:fix "use (bpf-attach-socket! obj port-or-fd)")))))

;; Perf event names as bpftrace spells them: (NAME CONFIG DEFAULT-COUNT
;; ALIAS ...); CONFIG is the kernel's PERF_COUNT_SW_* / PERF_COUNT_HW_*
;; number, DEFAULT-COUNT bpftrace's period when none is given.
(define perf-software-events
  '((cpu-clock 0 1000000 cpu)
    (task-clock 1 1000000)
    (page-faults 2 100 faults)
    (context-switches 3 1000 cs)
    (cpu-migrations 4 1)
    (minor-faults 5 100)
    (major-faults 6 1)
    (alignment-faults 7 1)
    (emulation-faults 8 1)
    (dummy 9 1)))

(define perf-hardware-events
  '((cpu-cycles 0 1000000 cycles)
    (instructions 1 1000000)
    (cache-references 2 1000000)
    (cache-misses 3 1000000)
    (branch-instructions 4 100000 branches)
    (branch-misses 5 100000)
    (bus-cycles 6 100000)
    (frontend-stalls 7 1000000)
    (backend-stalls 8 1000000)
    (ref-cycles 9 1000000)))

(define (bpf-perf-event-spec target)
  "Parse the perf-event target @var{target},
@code{\"software:NAME[:COUNT]\"} or @code{\"hardware:NAME[:COUNT]\"},
into an alist of @code{class}, @code{name}, @code{config} and
@code{count} (the sampling period; bpftrace's default when omitted)."
  (define (bad why)
    (raise-ebpf-error
     'ebpf-validation-error 'bpf-object-attach
     (format #f "bad perf-event target ~s: ~a" target why)
     #:fix "write \"software:NAME[:COUNT]\" (NAME one of cpu-clock, task-clock, page-faults, context-switches, cpu-migrations, minor-faults, major-faults, alignment-faults, emulation-faults, dummy) or \"hardware:NAME[:COUNT]\" (cycles, instructions, cache-misses ...)"))
  (unless (string? target) (bad "not a string"))
  (let* ((parts (string-split target #\:))
         (class (and (pair? parts) (string->symbol (car parts))))
         (table (case class
                  ((software s) perf-software-events)
                  ((hardware h) perf-hardware-events)
                  (else (bad "the class is neither software nor hardware")))))
    (unless (<= 2 (length parts) 3) (bad "expected CLASS:NAME[:COUNT]"))
    (let* ((name (string->symbol (cadr parts)))
           (row (or (find (lambda (r) (memq name (cons (car r) (cdddr r))))
                          table)
                    (bad (format #f "no ~a event ~a" class name))))
           (count (if (null? (cddr parts))
                      (caddr row)
                      (let ((n (string->number (caddr parts))))
                        (unless (and (exact-integer? n) (<= 1 n #xffffffff))
                          (bad "the count is not an integer from 1 to 2^32-1"))
                        n))))
      `((class . ,(if (eq? table perf-hardware-events) 'hardware 'software))
        (name . ,(cadr parts))
        (config . ,(cadr row))
        (count . ,count)))))

(define (bpf-resolve-uprobe target)
  "Return @code{(PATH . OFFSET)}: where the uprobe target @var{target},
@code{\"LIB:SYMBOL\"}, lands.  LIB is a path, an executable found
through @env{PATH} (@code{\"bash\"}) or a library of the dynamic
linker's cache (@code{\"libc\"}, @code{\"c\"}, @code{\"libc.so.6\"});
SYMBOL is a function, of several versions the default one
(@code{pthread_create} is @code{pthread_create@@@@GLIBC_2.34} in glibc
2.34 and later), or @code{SYM@@VERSION}, or a file offset
@code{0xOFFSET}.  OFFSET is the offset in the file PATH.  Raises
@code{ebpf-attach-error} naming the missing binary, symbol or version."
  (%bpf-uprobe-resolve target))

(define (bpf-attach-socket! obj port-or-fd)
  "Attach the socket-filter program of @var{obj} to a socket, given as a
port or a file descriptor, and return a @code{<bpf-link>}.  The filter
keeps a packet when the program returns a non-zero length (the bytes to
keep) and drops it when it returns 0.  Destroying the link detaches the
filter if the socket is still open; closing the socket ends it too."
  (%bpf-attach-socket obj (if (port? port-or-fd)
                              (fileno port-or-fd)
                              port-or-fd)))

(define (bpf-link? obj)
  "Return @code{#t} if @var{obj} is a @code{<bpf-link>} (live or
destroyed)."
  (%bpf-link? obj))

(define (lmeta l i) (vector-ref (%bpf-link-meta l) i))

(define (bpf-link-kind l)
  "Return the kind of attachment of link @var{l} (@code{xdp},
@code{tracepoint} ...)."
  (lmeta l 0))
(define (bpf-link-target l)
  "Return what link @var{l} is attached to, as a string."
  (lmeta l 1))
(define (bpf-link-program-name l)
  "Return the name of the program behind link @var{l}."
  (lmeta l 2))
(define (bpf-link-object l)
  "Return the @code{<bpf-object>} whose program link @var{l} runs."
  (lmeta l 3))
(define (bpf-link-live? l)
  "Return @code{#t} until link @var{l} is destroyed."
  (lmeta l 4))
(define (bpf-link-fds l)
  "Return the kernel link fds that @var{l} holds (one per CPU for a
perf event; none for tc and socket filters)."
  (lmeta l 5))

(define (bpf-link-destroy! l)
  "Detach link @var{l}.  Idempotent."
  (%bpf-link-destroy! l))

(define (bpf-link-update! l obj)
  "Replace atomically the program behind link @var{l} by the program of
@var{obj} (same kind): no event is missed or seen twice.  XDP, tc, cgroup
and socket-filter links can do this; for the others an
@code{ebpf-attach-error} says so."
  (%bpf-link-update! l obj))

(define (bpf-links)
  "Return the live links of this process."
  (%bpf-links))

(define (bpf-detach-all!)
  "Destroy every live link of this process; return how many there were."
  (%bpf-detach-all!))

;;; Test runs.

(define-record-type <bpf-run-result>
  (make-bpf-run-result retval verdict data duration-ns)
  bpf-run-result?
  (retval bpf-run-result-retval)
  (verdict bpf-run-result-verdict)
  (data bpf-run-result-data)
  (duration-ns bpf-run-result-duration-ns))

(define xdp-verdicts #(xdp-aborted xdp-drop xdp-pass xdp-tx xdp-redirect))
(define tc-verdicts
  #(tc-act-ok tc-act-reclassify tc-act-shot tc-act-pipe tc-act-stolen
    tc-act-queued tc-act-repeat tc-act-redirect tc-act-trap))

(define (verdict kind retval)
  (define (from table)
    (if (< retval (vector-length table)) (vector-ref table retval) retval))
  (case kind
    ((xdp) (from xdp-verdicts))
    ((tc) (if (= retval #xffffffff) 'tc-act-unspec (from tc-verdicts)))
    ((cgroup-skb cgroup-sock-addr cgroup-sock)
     (case retval ((1) 'allow) ((0) 'deny) (else retval)))
    ((socket-filter)
     ;; A socket filter returns how many bytes to keep.
     (if (zero? retval) 'deny 'allow))
    (else retval)))

(define* (bpf-test-run obj data #:key (repeat 1))
  "Run the program of @var{obj} on the packet @var{data} (a bytevector,
from the Ethernet header on) @var{repeat} times with BPF_PROG_TEST_RUN and
return a @code{<bpf-run-result>}: @code{bpf-run-result-retval} (the
program's return value), @code{bpf-run-result-verdict} (that value named
by kind: @code{xdp-pass}, @code{tc-act-shot}, @code{allow} ...),
@code{bpf-run-result-data} (the packet as the program left it) and
@code{bpf-run-result-duration-ns} (mean time per run)."
  (let* ((v (%bpf-test-run obj data repeat))
         (retval (vector-ref v 0)))
    (make-bpf-run-result retval (verdict (bpf-object-kind obj) retval)
                         (vector-ref v 2) (vector-ref v 1))))

;;; Printers.

(define (print-object o port)
  (let ((v (%bpf-object-meta o)))
    (if (vector-ref v 8)
        (format port "#<bpf-object ~a ~a closed>" (vector-ref v 0)
                (vector-ref v 1))
        (format port "#<bpf-object ~a ~a fd:~a id:~a sha256:~a>"
                (vector-ref v 0) (vector-ref v 1) (vector-ref v 2)
                (vector-ref v 3) (substring (vector-ref v 6) 0 12)))))

(define (print-link l port)
  (let ((v (%bpf-link-meta l)))
    (format port "#<bpf-link ~a ~a prog:~a~a>" (vector-ref v 0)
            (vector-ref v 1) (vector-ref v 2)
            (if (vector-ref v 4) "" " destroyed"))))

(define (print-result r port)
  (format port "#<bpf-run-result ~a retval:~a ~a bytes ~ans>"
          (bpf-run-result-verdict r) (bpf-run-result-retval r)
          (bytevector-length (bpf-run-result-data r))
          (bpf-run-result-duration-ns r)))

(define-method (write (o <bpf-object>) port) (print-object o port))
(define-method (display (o <bpf-object>) port) (print-object o port))
(define-method (write (l <bpf-link>) port) (print-link l port))
(define-method (display (l <bpf-link>) port) (print-link l port))
(set-record-type-printer! <bpf-run-result> print-result)
