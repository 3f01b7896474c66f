;;; defbpf-policy against the kernel: declarations in both spellings, the
;;; plan, dry runs that make no bpf() call, all-or-nothing apply with a
;;; failure injected at every step, pinned policies that outlive their
;;; process and are removed by another, re-applying a changed policy.
;;;
;;; "The kernel holds what it held before" is checked on what this
;;; process can own: its BPF file descriptors (maps, programs, links,
;;; BTF, perf events) by kernel id, the kernel's lists of maps and
;;; programs restricted to this file's names (other test files may run at
;;; the same time), the interface's XDP attachment, the policy's pins
;;; under bpffs and its manifest.
(use-modules (harness) (ebpf) ((ebpf core) #:select (%bpf-pinned-info))
             ((ebpf deploy-build) #:select (combine-c))
             (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 ftw) (ice-9 match) (ice-9 regex) (ice-9 popen))

(harness-begin "policy" 'kernel)

(define me (getpid))
(define (calls n thunk) (do ((i 0 (+ i 1))) ((= i n)) (thunk)))
(define (quiet cmd) (system (string-append cmd " >/dev/null 2>&1")))
(define (sh . args) (zero? (status:exit-val (apply system* args))))
(define (read-file f) (call-with-input-file f read-string))
(define tmp (format #f "/tmp/guile-ebpf-policy-~a" me))
(unless (file-exists? tmp) (mkdir tmp))
(define (write-file name text)
  (let ((f (string-append tmp "/" name)))
    (call-with-output-file f (lambda (p) (display text p)))
    f))

(define-syntax-rule (with-failure-at k expr)
  (let ((old #f))
    (dynamic-wind (lambda () (set! old (bpf-policy-fail-at-step k)))
                  (lambda () expr)
                  (lambda () (bpf-policy-fail-at-step old)))))

(define-syntax-rule (raises key expr)
  (catch #t (lambda () expr #f)
    (lambda (k . args) (and (eq? k key) (ebpf-error-message args)))))

;;; ------------------------------------------------------------------
;;; Snapshots of what this process and the kernel hold.

(define (fdinfo-id fd)
  (let ((text (or (false-if-exception (read-file (string-append "/proc/self/fdinfo/" fd))) "")))
    (or (any (lambda (field)
               (let ((m (string-match (string-append field ":[ \t]*([0-9]+)") text)))
                 (and m (string-append field " " (match:substring m 1)))))
             '("link_id" "map_id" "prog_id" "btf_id"))
        "")))

(define (fd-objects)
  (sort
   (filter-map
    (lambda (fd)
      (let ((target (false-if-exception (readlink (string-append "/proc/self/fd/" fd)))))
        (and target
             (string-prefix? "anon_inode:" target)
             (any (lambda (s) (string-contains target s))
                  '("bpf-map" "bpf-prog" "bpf_link" "btf" "perf_event"))
             (string-append target " " (fdinfo-id fd)))))
    (or (scandir "/proc/self/fd" (lambda (f) (string->number f))) '()))
   string<?))

(define (files-under dir)
  (if (file-exists? dir)
      (sort (let walk ((d dir))
              (append-map (lambda (f)
                            (let ((p (string-append d "/" f)))
                              (cons p (if (eq? 'directory (stat:type (lstat p)))
                                          (walk p) '()))))
                          (or (scandir d (lambda (f) (not (member f '("." ".."))))) '())))
            string<?)
      '()))

(define (kernel-ids list-proc prefixes)
  (sort (filter-map (lambda (o)
                      (and (any (lambda (p) (string-prefix? p (assq-ref o 'name))) prefixes)
                           (assq-ref o 'id)))
                    (list-proc))
        <))

(define (xdp-on? iface)
  (zero? (status:exit-val
          (system (format #f "ip link show dev ~a 2>/dev/null | grep -q xdp" iface)))))

(define* (snapshot policy-name #:key (prefixes '("tx_" "gebpf_slot_tx")) iface
                   (maps? #t))
  `((fds . ,(fd-objects))
    (links . ,(length (bpf-links)))
    (programs . ,(kernel-ids bpf-programs prefixes))
    (maps . ,(and maps? (kernel-ids bpf-maps prefixes)))
    (xdp . ,(and iface (xdp-on? iface)))
    (pin-dir . ,(file-exists? (bpf-policy-pin-dir policy-name)))
    (pins . ,(files-under (bpf-policy-pin-dir policy-name)))
    (manifest . ,(file-exists? (string-append (bpf-policy-run-dir) "/" policy-name)))))

;; Listing the kernel's maps opens each by id.  Done while a prog-array
;; (a dispatcher's slot) is being released, that makes the kernel (6.18
;; here) schedule the array's deferred clearing twice and keep the map
;; for ever; so maps are listed only once what this process held is
;; gone and the kernel has had a moment to finish releasing it.
(define (same-as before policy-name . args)
  (define (wait-for pred)
    (let loop ((tries 40))
      (cond ((pred) #t)
            ((zero? tries) #f)
            (else (usleep 50000) (loop (- tries 1))))))
  (define (without-maps s) (assq-set! (list-copy (map (lambda (p) (cons (car p) (cdr p))) s)) 'maps #f))
  (or (and (wait-for (lambda ()
                       (equal? (without-maps (apply snapshot policy-name #:maps? #f args))
                               (without-maps before))))
           (begin (usleep 300000) #t)
           (wait-for (lambda () (equal? (apply snapshot policy-name args) before))))
      (begin
        (format #t "# before: ~s~%# after:  ~s~%" before (apply snapshot policy-name args))
        #f)))

;;; ------------------------------------------------------------------
;;; Declarations: the tatara example verbatim, with either reader setting.

(defbpf-policy
  :name "edge-protection"
  :description "L4 SYN-flood mitigation"
  :programs ("drop_syn_flood")
  :maps ("syn_counter"))

(test-assert "tatara spelling binds edge-protection" (bpf-policy? edge-protection))
(test-equal "name" "edge-protection" (bpf-policy-name edge-protection))
(test-equal "description" "L4 SYN-flood mitigation" (bpf-policy-description edge-protection))
(test-equal "programs, kebab spelling" '("drop-syn-flood") (bpf-policy-programs edge-protection))
(test-equal "maps, kebab spelling" '("syn-counter") (bpf-policy-maps edge-protection))
(test-assert "kebab and snake names look up one object"
             (and (eq? (bpf-policy-lookup "edge_protection") edge-protection)
                  (eq? (bpf-policy-lookup 'edge-protection) edge-protection)))
(test-assert "the same form with (read-set! keywords 'prefix)"
             (let ((old (read-options)))
               (dynamic-wind
                 (lambda () (read-set! keywords 'prefix))
                 (lambda ()
                   (let ((p (eval (with-input-from-string "
(defbpf-policy
  :name \"edge_protection_p\"
  :description \"L4 SYN-flood mitigation\"
  :programs (\"drop_syn_flood\")
  :maps (\"syn_counter\"))" read)
                                  (current-module))))
                     (and (bpf-policy? p)
                          (equal? (bpf-policy-programs p) '("drop-syn-flood"))
                          (eq? p (bpf-policy-lookup "edge-protection-p")))))
                 (lambda () (read-options old)))))
(test-assert "printer" (string-prefix? "#<bpf-policy edge-protection"
                                       (format #f "~a" edge-protection)))

(defbpf-map tx_decl_map #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(defbpf-policy decl-objects #:programs '() #:maps (list tx_decl_map) #:doc "maps as objects")
(test-equal "#:maps takes map objects" '("tx-decl-map") (bpf-policy-maps decl-objects))
(test-equal "#:doc" "maps as objects" (bpf-policy-doc decl-objects))

(define (decl . args)
  (make-bpf-policy (let loop ((l args))
                     (if (null? l) '()
                         (cons (cons (keyword->symbol (car l)) (cadr l))
                               (loop (cddr l)))))))
(test-ebpf-error "unknown field" 'ebpf-validation-error ("unknown field #:targets")
                 (decl #:name "v1" #:programs '("a") #:targets '()))
(test-ebpf-error "bad name" 'ebpf-validation-error ("not a valid name")
                 (decl #:name "../etc" #:programs '("a")))
(test-ebpf-error "nothing to deploy" 'ebpf-validation-error ("no program and no map")
                 (decl #:name "v2"))
(test-ebpf-error "a name twice" 'ebpf-validation-error ("names a twice")
                 (decl #:name "v3" #:programs '("a" "a")))
(test-ebpf-error "description must be a string" 'ebpf-validation-error ("#:description")
                 (decl #:name "v4" #:programs '("a") #:description 42))
(test-ebpf-error "a program is a name or a program" 'ebpf-validation-error ("not a program")
                 (decl #:name "v5" #:programs '(42)))
(test-ebpf-error "planning an unknown program" 'ebpf-validation-error
                 ("policy edge-protection" "no program named \"drop-syn-flood\"")
                 (bpf-policy-plan edge-protection))
(test-ebpf-error "planning an unknown map" 'ebpf-validation-error
                 ("no map named \"nosuch-map\"")
                 (bpf-policy-plan (decl #:name "v6" #:maps '("nosuch-map"))))
(test-ebpf-error "applying an undeclared policy" 'ebpf-validation-error ("no policy named")
                 (bpf-policy-apply! "never-declared"))
(test-ebpf-error "status of an unknown policy" 'ebpf-validation-error ("no policy named")
                 (bpf-policy-status "never-declared"))
(test-ebpf-error "removing a policy that is not applied" 'ebpf-error ("neither applied")
                 (bpf-policy-remove! "never-declared"))

;;; ------------------------------------------------------------------
;;; The transactional policy: three maps (one only used by a program),
;;; two tracepoint programs behind dispatchers and an XDP program on one
;;; end of a veth pair.

(define iface (format #f "txpol~a" (modulo me 100000)))
(quiet (format #f "ip link del ~a" iface))
(define peer (format #f "txpeer~a" (modulo me 100000)))
(test-assert "veth pair" (and (sh "ip" "link" "add" iface "type" "veth" "peer" "name" peer)
                              (sh "ip" "link" "set" iface "up")
                              (sh "ip" "link" "set" peer "up")))

(defbpf-map tx_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(defbpf-map tx_seen #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 64)
(defbpf-map tx_packets #:kind 'per-cpu-array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn tx_count_getpid (ctx)
  (when (= (pid) (const me)) (map-increment! tx_counts 0)))
(bpf-fn tx_count_getppid (ctx)
  (when (= (pid) (const me))
    (map-increment! tx_counts 1)
    (map-increment! tx_seen (cpu))))
(bpf-fn tx_xdp (ctx) (map-increment! tx_packets 0) (return :xdp-pass))
(defbpf-program tx-getpid #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source tx_count_getpid #:constants `((me . ,me)))
(defbpf-program tx-getppid #:kind 'tracepoint #:attach "syscalls/sys_enter_getppid"
  #:source tx_count_getppid #:constants `((me . ,me)))
(defbpf-program tx-xdp #:kind 'xdp #:attach `(#:target ,iface #:mode generic)
  #:source tx_xdp)
(defbpf-policy tx-policy
  #:description "transactions"
  #:programs '("tx_getpid" tx-xdp "tx-getppid")
  #:maps '("tx-counts" "tx_packets"))

(define expected-plan
  '((create-map "tx-counts") (create-map "tx-packets") (create-map "tx-seen")
    (load-program "tx-getpid") (load-program "tx-xdp") (load-program "tx-getppid")
    (attach-program "tx-getpid") (attach-program "tx-xdp") (attach-program "tx-getppid")))
(define expected-pin-plan
  (append expected-plan
          '((pin-map "tx-counts") (pin-map "tx-packets") (pin-map "tx-seen")
            (pin-program "tx-getpid") (pin-program "tx-xdp") (pin-program "tx-getppid")
            (write-manifest "tx-policy"))))
(define (plan-shape steps)
  (map (lambda (s) (list (assq-ref s 'action) (assq-ref s 'name))) steps))

(define before (snapshot "tx-policy" #:iface iface))

(test-equal "plan: maps (listed, then used), loads, attachments in the listed order"
            expected-plan (plan-shape (bpf-policy-plan tx-policy)))
(test-equal "plan with pin?" expected-pin-plan
            (plan-shape (bpf-policy-plan "tx_policy" #:pin? #t)))
(test-equal "plan steps are numbered" (iota 16 1)
            (map (lambda (s) (assq-ref s 'index)) (bpf-policy-plan tx-policy #:pin? #t)))
(test-assert "plan details say what each step does"
             (every (lambda (s) (string? (assq-ref s 'detail)))
                    (bpf-policy-plan tx-policy #:pin? #t)))
(test-assert "planning touched nothing" (same-as before "tx-policy" #:iface iface))

;; ---- the digest ----
(define digest (bpf-policy-digest tx-policy))
(test-assert "digest is a sha256" (string-match "^[0-9a-f]{64}$" digest))
(test-equal "digest is stable" digest (bpf-policy-digest "tx-policy"))

;; ---- dry runs, in this process ----
(define dry (bpf-policy-apply! tx-policy #:dry-run? #t #:pin? #t))
(test-equal "dry run: the plan" expected-pin-plan (plan-shape (assq-ref dry 'steps)))
(test-equal "dry run: outcome" 'applied (assq-ref dry 'outcome))
(test-equal "dry run: one log line per step" 16 (length (assq-ref dry 'log)))
(test-assert "dry run: says what it would do"
             (string-contains (car (assq-ref dry 'log)) "would create map tx-counts"))
(test-equal "dry run: the digest" digest (assq-ref dry 'digest))
(test-assert "dry run touched nothing" (same-as before "tx-policy" #:iface iface))
(test-assert "dry run created no map" (not (bpf-map-fd tx_counts)))
(define dry-fail (with-failure-at 5 (bpf-policy-apply! tx-policy #:dry-run? #t)))
(test-equal "dry run with a failure: outcome" 'failed (assq-ref dry-fail 'outcome))
(test-equal "dry run with a failure: the step" 5 (assq-ref dry-fail 'failed-step))
(test-assert "dry run with a failure: the undos, newest first"
             (let ((log (assq-ref dry-fail 'log)))
               (and (string-contains (list-ref log 4) "step 5")
                    (string-contains (list-ref log 5) "would undo step 4")
                    (string-contains (list-ref log 8) "would undo step 1"))))
(test-assert "dry run with a failure touched nothing" (same-as before "tx-policy" #:iface iface))

;; ---- a dry run makes no bpf() call: watched by strace, and run with no
;; capabilities at all (where any bpf() call fails) ----
(define policy-file
  (write-file "tx.scm"
              (string-append
               "(defbpf-map tx_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)\n"
               "(bpf-fn tx_count (ctx) (map-increment! tx_counts 0))\n"
               "(defbpf-program tx-count #:kind 'tracepoint #:attach \"syscalls/sys_enter_getpid\" #:source tx_count)\n"
               "(defbpf-policy tx-file #:programs '(\"tx-count\") #:maps '(\"tx-counts\"))\n")))
(define (run-sh cmd)
  (let* ((port (open-pipe* OPEN_READ "sh" "-c" (string-append cmd " 2>&1")))
         (out (read-string port))
         (status (close-pipe port)))
    (cons (status:exit-val status) out)))
(if (zero? (status:exit-val (system "command -v strace >/dev/null")))
    (let* ((trace (string-append tmp "/strace.log"))
           (r (run-sh (format #f "strace -f -qq -e trace=bpf -o ~a guile-ebpf apply ~a --dry-run --pin"
                              trace policy-file))))
      (test-equal "strace: the dry run succeeds" 0 (car r))
      (test-assert "strace: it printed the steps" (string-contains (cdr r) "would load"))
      (test-assert "strace: no bpf() call at all"
                   (let ((log (read-file trace)))
                     (or (not (string-contains log "bpf("))
                         (begin (format #t "# ~a~%" log) #f)))))
    (format #t "# strace is not installed: the dry run is checked without capabilities only~%"))
(let ((r (run-sh (format #f "setpriv --inh-caps=-all --bounding-set=-all guile-ebpf apply ~a --dry-run"
                         policy-file))))
  (test-equal "no capabilities: the dry run succeeds" 0 (car r))
  (test-assert "no capabilities: it printed the steps" (string-contains (cdr r) "would attach")))
(let ((r (run-sh (format #f "setpriv --inh-caps=-all --bounding-set=-all guile-ebpf apply ~a"
                         policy-file))))
  (test-equal "no capabilities: a real apply fails (status 1)" 1 (car r))
  (test-assert "no capabilities: with a permission error"
               (string-contains (cdr r) "ebpf-permission-error")))

;; ---- all or nothing: a failure injected at every step ----
(for-each
 (lambda (k)
   (let ((msg (with-failure-at k (raises 'ebpf-error (bpf-policy-apply! tx-policy #:pin? #t)))))
     (test-assert (format #f "failure at step ~a of 16: the error names the step" k)
                  (and msg
                       (string-contains msg (format #f "policy tx-policy: step ~a of 16 failed" k))
                       (string-contains msg "injected failure")
                       (string-contains msg "Fix:")
                       (string-contains msg (if (= k 1) "nothing had been done"
                                                (format #f "steps 1-~a were undone" (- k 1))))))
     (test-assert (format #f "failure at step ~a of 16: the kernel holds what it held" k)
                  (same-as before "tx-policy" #:iface iface))
     (test-assert (format #f "failure at step ~a of 16: nothing is loaded or created" k)
                  (and (not (any bpf-program-loaded? (list tx-getpid tx-xdp tx-getppid)))
                       (not (any bpf-map-fd (list tx_counts tx_seen tx_packets)))
                       (not (bpf-policy-applied? tx-policy))))))
 (iota 16 1))

;; ---- a real failure: a program the verifier refuses, after a map was
;; created and another program loaded ----
(define bad-c
  (write-file "bad.bpf.c" "
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4);
         __type(key, __u32); __type(value, __u64); } tx_counts SEC(\".maps\");
SEC(\"tracepoint/syscalls/sys_enter_getpid\")
int tx_bad(void *ctx)
{
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem (&tx_counts, &k);
  if (!v)
    return 0;
  return v[bpf_get_prandom_u32 ()];   /* unbounded: the verifier says no */
}
char LICENSE[] SEC(\"license\") = \"GPL\";
"))
(defbpf-program tx-bad #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source bad-c #:uses-maps '("tx-counts"))
(defbpf-policy tx-verifier #:programs '("tx-getpid" "tx-bad") #:maps '("tx-counts"))
(let ((msg (raises 'ebpf-verifier-error (bpf-policy-apply! tx-verifier))))
  (test-assert "verifier failure: keeps its key, names the step"
               (and msg (string-contains msg "policy tx-verifier: step 3 of 5 failed")
                    (string-contains msg "load-program tx-bad")
                    (string-contains msg "steps 1-2 were undone")
                    (string-contains msg "Fix:"))))
(test-assert "verifier failure: the kernel holds what it held"
             (same-as before "tx-policy" #:iface iface))

;; ---- failures found before the kernel is touched ----
(defbpf-program tx-noif #:kind 'xdp #:attach "nosuch-if0" #:source tx_xdp)
(defbpf-policy tx-noif-pol #:programs '("tx-getpid" "tx-noif"))
(test-ebpf-error "a missing interface is found before anything is done" 'ebpf-attach-error
                 ("policy tx-noif-pol" "interface nosuch-if0 does not exist")
                 (bpf-policy-apply! tx-noif-pol))
(defbpf-policy tx-unknown #:programs '("tx-getpid" "no-such-program"))
(test-ebpf-error "an unknown program is found before anything is done" 'ebpf-validation-error
                 ("policy tx-unknown" "no program named \"no-such-program\"")
                 (bpf-policy-apply! tx-unknown))
(bpf-fn tx_bad_body (ctx) (when (packet-ipv4 ctx) (map-increment! tx_counts 2)))
(defbpf-program tx-badbody #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source tx_bad_body)
(defbpf-policy tx-lower #:programs '("tx-getpid" "tx-badbody"))
(test-assert "a body that does not lower is found before anything is done"
             (let ((msg (raises 'ebpf-lower-error (bpf-policy-apply! tx-lower))))
               (and msg (string-contains msg "policy tx-lower: program tx-badbody"))))
(test-assert "early failures touched nothing" (same-as before "tx-policy" #:iface iface))

;; ---- the whole policy, pinned ----
;; Counting the lowerings it makes: its digest, the unit its programs
;; are built in and each load all need a program's C, lowered once.
(define lowerings 0)
(define applied
  (let* ((v (module-variable (resolve-module '(ebpf core)) '%bpf-fn-lower))
         (lower (variable-ref v)))
    (dynamic-wind
      (lambda ()
        (variable-set! v (lambda args
                           (set! lowerings (+ lowerings 1))
                           (apply lower args))))
      (lambda () (bpf-policy-apply! tx-policy #:pin? #t))
      (lambda () (variable-set! v lower)))))
(test-equal "apply: each bpf-fn program lowered once" 3 lowerings)
(test-equal "apply: every step done" expected-pin-plan (plan-shape (assq-ref applied 'steps)))
(test-equal "apply: maps created"
            '(("tx-counts" . created) ("tx-packets" . created) ("tx-seen" . created))
            (assq-ref applied 'maps))
(test-equal "apply: programs attached"
            '(("tx-getpid" . attached) ("tx-xdp" . attached) ("tx-getppid" . attached))
            (assq-ref applied 'programs))
(test-equal "apply: the digest" digest (assq-ref applied 'digest))
(calls 7 getpid)
(calls 3 getppid)
(test-equal "the getpid program runs" 7 (bpf-map-ref tx_counts 0))
(test-equal "the getppid program runs" 3 (bpf-map-ref tx_counts 1))
(test-assert "the XDP program is attached" (xdp-on? iface))
(test-assert "pins: maps, programs, dispatchers, links"
             (let ((files (map basename (files-under (bpf-policy-pin-dir "tx-policy")))))
               (every (lambda (f) (member f files))
                      '("map:tx-counts" "map:tx-packets" "map:tx-seen"
                        "prog:tx-getpid" "prog:tx-getpid:dispatch" "prog:tx-getpid:slot"
                        "link:tx-getpid:0" "prog:tx-xdp" "link:tx-xdp:0"
                        "prog:tx-getppid" "link:tx-getppid:0"))))
(define manifest (bpf-policy-manifest "tx-policy"))
(test-equal "manifest: the policy" "tx-policy" (assq-ref manifest 'policy))
(test-equal "manifest: the digest" digest (assq-ref manifest 'digest))
(test-equal "manifest: who applied it" me (assq-ref manifest 'applied-by))
(test-equal "manifest: the maps" '("tx-counts" "tx-packets" "tx-seen")
            (map (lambda (m) (assq-ref m 'name)) (assq-ref manifest 'maps)))
(test-equal "manifest: the programs' object digests"
            (map bpf-program-digest (list tx-getpid tx-xdp tx-getppid))
            (map (lambda (p) (assq-ref p 'digest)) (assq-ref manifest 'programs)))
(let ((st (bpf-policy-status tx-policy)))
  (test-equal "status: applied here" 'applied (assq-ref st 'state))
  (test-assert "status: every program attached"
               (every (lambda (p) (assq-ref p 'attached)) (assq-ref st 'programs)))
  (test-assert "status: run counts"
               (every (lambda (p) (integer? (assq-ref p 'run-count))) (assq-ref st 'programs))))
(define dup-file
  (write-file "dup.scm"
              (string-append
               "(defbpf-map tx_other #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)\n"
               "(defbpf-policy tx-policy #:maps '(\"tx-other\"))\n")))
(let ((r (run-sh (format #f "guile-ebpf apply ~a --pin" dup-file))))
  (test-equal "pinning a policy of the same name from another process fails" 1 (car r))
  (test-assert "saying it is already pinned, with a Fix"
               (and (string-contains (cdr r) "policy tx-policy is already pinned")
                    (string-contains (cdr r) "Fix: remove it first"))))
(test-assert "that attempt left our pins alone"
             (file-exists? (string-append (bpf-policy-pin-dir "tx-policy") "/map:tx-counts")))
(test-assert "removed from this process" (assq-ref (bpf-policy-remove! tx-policy) 'programs))
(test-assert "after remove: the kernel holds what it held"
             (same-as before "tx-policy" #:iface iface))
(test-assert "after remove: maps released, programs unloaded"
             (and (not (any bpf-map-fd (list tx_counts tx_seen tx_packets)))
                  (not (any bpf-program-loaded? (list tx-getpid tx-xdp tx-getppid)))))
(test-assert "a removed policy can be applied again"
             (begin (bpf-policy-apply! tx-policy)
                    (calls 2 getpid)
                    (let ((n (bpf-map-ref tx_counts 0)))
                      (bpf-policy-remove! tx-policy)
                      (= n 2))))
(test-assert "and removed again" (same-as before "tx-policy" #:iface iface))

;;; ------------------------------------------------------------------
;;; A pinned policy outlives the process that applied it.

(define life-file
  (write-file "life.scm" (format #f "
(defbpf-map life_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(bpf-fn life_count (ctx) (when (= (pid) (const who)) (map-increment! life_counts 0)))
(defbpf-program life-counter #:kind 'tracepoint #:attach \"syscalls/sys_enter_getpid\"
  #:source life_count #:constants '((who . ~a)))
(defbpf-policy life-policy #:description \"outlives its process\"
  #:programs '(\"life-counter\") #:maps '(\"life-counts\"))
" me)))
(define life-before (snapshot "life-policy" #:prefixes '("life_")))
(let ((r (run-sh (format #f "guile-ebpf apply ~a --pin" life-file))))
  (test-equal "a child applies the policy, pinned, and exits" 0 (car r))
  (test-assert "the child said where" (string-contains (cdr r) "pinned under /sys/fs/bpf/guile-ebpf/life-policy")))
(test-assert "not applied by this process" (not (bpf-policy-applied? "life-policy")))
(test-assert "listed as pinned" (member "life-policy" (bpf-pinned-policy-names)))
(calls 100 getpid)
(let ((m (bpf-policy-map "life-policy" "life_counts")))
  (test-equal "it kept counting after its process exited: this process's getpid calls"
              100 (bpf-map-ref m 0))
  (bpf-map-close! m))
(define life-status (bpf-policy-status "life_policy"))
(test-equal "status from another process: pinned" 'pinned (assq-ref life-status 'state))
(test-equal "status: the applying process is gone" #f (assq-ref life-status 'applied-by-alive))
(test-equal "status: the description" "outlives its process" (assq-ref life-status 'description))
(test-assert "status: the program is attached through its pinned link"
             (let ((p (car (assq-ref life-status 'programs))))
               (and (assq-ref p 'attached) (= 1 (assq-ref p 'links)) (assq-ref p 'id))))
(test-equal "status: the map and its entries" '("life-counts" . 2)
            (let ((m (car (assq-ref life-status 'maps))))
              (cons (assq-ref m 'name) (assq-ref m 'entries))))
(define life-prog-id (assq-ref (car (assq-ref life-status 'programs)) 'id))
(test-assert "the kernel lists its program" (memv life-prog-id (map (lambda (p) (assq-ref p 'id)) (bpf-programs))))
(define life-removed (bpf-policy-remove! "life-policy"))
(test-equal "removed from its pins" 'pinned (assq-ref life-removed 'removed))
(test-equal "no process still holds it" #f (assq-ref life-removed 'still-held-by))
(test-assert "nothing left under bpffs" (not (file-exists? (bpf-policy-pin-dir "life-policy"))))
(test-assert "no manifest left" (not (bpf-policy-manifest "life-policy")))
(test-assert "the kernel freed its program, maps and links"
             (let loop ((tries 40))
               (cond ((not (memv life-prog-id (map (lambda (p) (assq-ref p 'id)) (bpf-programs))))
                      (same-as life-before "life-policy" #:prefixes '("life_")))
                     ((zero? tries) #f)
                     (else (usleep 50000) (loop (- tries 1))))))

;;; ------------------------------------------------------------------
;;; Re-applying a changed policy changes only what changed.

(defbpf-map re_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn re_count (ctx) (when (= (pid) (const me)) (map-increment! re_counts 0)))
(defbpf-program re-prog #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source re_count #:constants `((me . ,me)))
(defbpf-program re-other #:kind 'tracepoint #:attach "syscalls/sys_enter_getppid"
  #:source re_count #:constants `((me . ,me)))
(defbpf-policy re-policy #:programs '("re-prog" "re-other") #:maps '("re-counts"))
(define re-before (snapshot "re-policy" #:prefixes '("re_")))
(bpf-policy-apply! re-policy #:pin? #t)
(calls 10 getpid)
(test-equal "first apply counts" 10 (bpf-map-ref re_counts 0))
(define r-same (bpf-policy-apply! re-policy))
(test-equal "re-apply, nothing changed: maps kept" '(("re-counts" . kept)) (assq-ref r-same 'maps))
(test-equal "re-apply, nothing changed: programs unchanged"
            '(("re-prog" . unchanged) ("re-other" . unchanged)) (assq-ref r-same 'programs))
(test-equal "re-apply of a pinned policy keeps it pinned"
            (bpf-policy-pin-dir "re-policy") (assq-ref r-same 'pin-dir))

;; One program changed; the file's other declarations evaluated again,
;; as reloading the file does.
(defbpf-map re_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn re_count_v2 (ctx) (when (= (pid) (const me)) (map-increment! re_counts 1)))
(defbpf-program re-prog #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source re_count_v2 #:constants `((me . ,me)))
(define r-changed (bpf-policy-apply! re-policy))
(test-equal "one program changed: the map is kept" '(("re-counts" . kept)) (assq-ref r-changed 'maps))
(test-equal "one program changed: it was swapped, the other unchanged"
            '(("re-prog" . swapped) ("re-other" . unchanged)) (assq-ref r-changed 'programs))
(test-equal "one program changed: no map recreated" '() (assq-ref r-changed 'recreated))
(test-equal "one program changed: the map's data survived" 10 (bpf-map-ref re_counts 0))
(calls 5 getpid)
(test-equal "the new version runs" 5 (bpf-map-ref re_counts 1))
(test-equal "the old version does not" 10 (bpf-map-ref re_counts 0))
(test-equal "the program's pin is the new version"
            (bpf-object-id (bpf-program-object (bpf-program-lookup "re-prog")))
            (assq-ref (%bpf-pinned-info (string-append (bpf-policy-pin-dir "re-policy") "/prog:re-prog"))
                      'id))

;; A map's shape changed: recreated, reported, its users reloaded.
(defbpf-map re_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(define r-shape (bpf-policy-apply! re-policy))
(test-equal "shape changed: the map is recreated" '(("re-counts" . recreated)) (assq-ref r-shape 'maps))
(test-equal "shape changed: reported with both shapes"
            '("re-counts" 4 8)
            (match (assq-ref r-shape 'recreated)
              (((name ('old . old) ('new . new)))
               (list name (assq-ref old 'max-entries) (assq-ref new 'max-entries)))
              (x x)))
(test-equal "shape changed: the programs using it were reloaded"
            '(("re-prog" . reloaded) ("re-other" . reloaded)) (assq-ref r-shape 'programs))
(test-equal "shape changed: the new map starts empty" 0 (bpf-map-ref re_counts 0))
(calls 4 getpid)
(calls 2 getppid)
(test-equal "shape changed: the reloaded programs write the new map" '(4 2)
            (list (bpf-map-ref re_counts 1) (bpf-map-ref re_counts 0)))
(test-equal "shape changed: the pinned map is the new one" 8
            (let* ((m (bpf-policy-map "re-policy" "re-counts")))
              (bpf-map-max-entries m)))
(test-equal "the manifest follows" 8
            (assq-ref (car (assq-ref (bpf-policy-manifest "re-policy") 'maps)) 'max-entries))
(bpf-policy-remove! re-policy)
(test-assert "after re-applies and remove: the kernel holds what it held"
             (same-as re-before "re-policy" #:prefixes '("re_")))

;; Dropping a program from a re-applied policy detaches it.
(defbpf-policy re-policy #:programs '("re-prog" "re-other") #:maps '("re-counts"))
(bpf-policy-apply! re-policy)
(defbpf-policy re-policy #:programs '("re-prog") #:maps '("re-counts"))
(test-equal "a program no longer named is removed"
            '(("re-prog" . unchanged) ("re-other" . removed))
            (assq-ref (bpf-policy-apply! re-policy) 'programs))
(test-assert "and unloaded" (not (bpf-program-loaded? "re-other")))
(bpf-policy-remove! re-policy)
(test-assert "clean again" (same-as re-before "re-policy" #:prefixes '("re_")))

;; Two policies naming one program and one map: removing the first keeps
;; them for the second, removing the second removes them.
(defbpf-policy share-a #:programs '("re-prog") #:maps '("re-counts"))
(defbpf-policy share-b #:programs '("re-prog" "re-other") #:maps '("re-counts"))
(bpf-policy-apply! share-a)
(test-equal "a second policy keeps what the first applied"
            '(("re-prog" . kept) ("re-other" . attached))
            (assq-ref (bpf-policy-apply! share-b) 'programs))
(bpf-policy-remove! share-a)
(test-assert "removing the first keeps the shared program attached"
             (and (bpf-program-attached? "re-prog") (bpf-program-attached? "re-other")))
(test-assert "and the shared map" (bpf-map-fd re_counts))
(bpf-policy-remove! share-b)
(test-assert "removing the second removes them"
             (same-as re-before "re-policy" #:prefixes '("re_")))

;; ---- one clang run for the bpf-fn programs of an apply ----
;; The policy's programs are built as one translation unit and each is
;; loaded from that object; a later version of one is built alone and
;; swapped in.

(defbpf-map one_unit_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn one_unit_getpid (ctx)
  (when (= (pid) (const me)) (map-increment! one_unit_counts 0)))
(bpf-fn one_unit_getppid (ctx)
  (when (= (pid) (const me)) (map-increment! one_unit_counts 1)))
(bpf-fn one_unit_getuid (ctx)
  (when (= (pid) (const who)) (map-increment! one_unit_counts 2)))
(defbpf-program one-unit-getpid #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source one_unit_getpid #:constants `((me . ,me)))
(defbpf-program one-unit-getppid #:kind 'tracepoint #:attach "syscalls/sys_enter_getppid"
  #:source one_unit_getppid #:constants `((me . ,me)))
;; A constant of its own name and value in the same unit.
(defbpf-program one-unit-getuid #:kind 'tracepoint #:attach "syscalls/sys_enter_getuid"
  #:source one_unit_getuid #:constants `((who . ,me)))
(defbpf-policy one-unit
  #:programs '("one-unit-getpid" "one-unit-getppid" "one-unit-getuid")
  #:maps '("one-unit-counts"))
(define one-unit-before (snapshot "one-unit" #:prefixes '("one_unit")))
(test-equal "one unit: applied" '(("one-unit-getpid" . attached)
                                  ("one-unit-getppid" . attached)
                                  ("one-unit-getuid" . attached))
            (assq-ref (bpf-policy-apply! one-unit) 'programs))
(define (object-file name)
  (bpf-object-path (bpf-program-object (bpf-program-lookup name))))
(test-assert "one unit: the three programs come from one object file"
             (string=? (object-file "one-unit-getpid") (object-file "one-unit-getppid")
                       (object-file "one-unit-getuid")))
(test-equal "one unit: each loaded program is its own"
            '("one_unit_getpid" "one_unit_getppid" "one_unit_getuid")
            (map (lambda (n) (bpf-object-name (bpf-program-object (bpf-program-lookup n))))
                 '("one-unit-getpid" "one-unit-getppid" "one-unit-getuid")))
(calls 5 getpid)
(calls 3 getppid)
(calls 2 getuid)
(test-equal "one unit: every program runs, once per call"
            '(5 3 2 0)
            (map (lambda (i) (bpf-map-ref one_unit_counts i)) (iota 4)))
(test-assert "one unit: the verifier log of one of them"
             (string? (bpf-program-verifier-log "one-unit-getppid")))
(bpf-program-set-constants! "one-unit-getppid" `((me . ,me)))
(test-assert "one unit: a new version is built alone"
             (not (string=? (object-file "one-unit-getpid") (object-file "one-unit-getppid"))))
(calls 4 getppid)
(calls 1 getpid)
(test-equal "one unit: the swapped version runs, the others still do"
            '(6 7 2)
            (map (lambda (i) (bpf-map-ref one_unit_counts i)) (iota 3)))
(bpf-policy-remove! one-unit)
(test-assert "one unit: removed, the kernel holds what it held"
             (same-as one-unit-before "one-unit" #:prefixes '("one_unit")))

;; ---- one unit from the parts of two lowerings, inline instances apart ----
;; Both programs make an instance u_ou_twice__0 of one inline, with
;; different parameter slots: joined, the second is lowered again with a
;; suffix of its own (no C text is searched), and both run from the one
;; object.
(define-bpf-inline (ou-twice x) (* 2 x))
(defbpf-map ou_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(bpf-fn ou_getpid (ctx)
  (when (= (pid) (const me)) (map-increment! ou_counts (ou-twice 1))))
(bpf-fn ou_getppid (ctx)
  (let* ((one 1) (three (+ one 2)))
    (when (= (pid) (const me)) (map-increment! ou_counts (ou-twice three)))))
(defbpf-program ou-getpid #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source ou_getpid #:constants `((me . ,me)))
(defbpf-program ou-getppid #:kind 'tracepoint #:attach "syscalls/sys_enter_getppid"
  #:source ou_getppid #:constants `((me . ,me)))
(define (ou-lowering name)
  (let ((p (bpf-program-lookup name)))
    (list p
          (bpf-fn-lowering (bpf-program-source p) #:kind 'tracepoint
                           #:target (bpf-program-target p)
                           #:constants (bpf-program-constants p)
                           #:license (bpf-program-license p))
          (lambda (suffix)
            (bpf-fn-lowering (bpf-program-source p) #:kind 'tracepoint
                             #:target (bpf-program-target p)
                             #:constants (bpf-program-constants p)
                             #:license (bpf-program-license p)
                             #:instance-suffix suffix)))))
(define ou-c (combine-c "" (map ou-lowering '("ou-getpid" "ou-getppid"))
                        (lambda (p what) (throw 'clash what))))
(test-assert "two instances under one name: the second lowered with a suffix"
             (and (string-contains ou-c "\nu_ou_twice__0 (")
                  (string-contains ou-c "\nu_ou_twice__0_p1 (")
                  (string-contains ou-c "= (__u32)u_ou_twice__0_p1 (")))
(test-equal "the map both use is declared once" 1
            (length (list-matches "[}] u_ou_counts __asm__" ou-c)))
(defbpf-policy ou-policy #:programs '("ou-getpid" "ou-getppid") #:maps '("ou-counts"))
(bpf-policy-apply! ou-policy)
(test-assert "both built in one object"
             (string=? (object-file "ou-getpid") (object-file "ou-getppid")))
(calls 5 getpid)
(calls 3 getppid)
(test-equal "and both run, each with its own instance" '(5 3)
            (list (bpf-map-ref ou_counts 2) (bpf-map-ref ou_counts 6)))
(bpf-policy-remove! ou-policy)

;; Programs under different licenses cannot share a unit.
(defbpf-program ou-mit #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
  #:source (bpf-fn ou_mit (ctx) 0) #:license "Dual MIT/GPL")
(test-equal "mixed licenses are refused, naming the program" '(license "ou-mit")
            (catch 'clash
              (lambda ()
                (combine-c "" (map ou-lowering '("ou-getpid" "ou-mit"))
                           (lambda (p what) (throw 'clash what (bpf-program-name p))))
                #f)
              (lambda (key what name) (list what name))))

(quiet (format #f "ip link del ~a" iface))
(system* "rm" "-rf" tmp)
(harness-end)
