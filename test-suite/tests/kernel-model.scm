;;; The kernel model: one table of program kinds and one of map kinds,
;;; and every reader agreeing with it.
(use-modules (harness) (ebpf) (ebpf kernel) (srfi srfi-1) (srfi srfi-64))

(harness-begin "kernel-model")

(define (row kind) (find (lambda (k) (eq? (assq-ref k 'name) kind)) kind-table))
(define lowered (kinds-where (lambda (k) (assq-ref k 'bpf-fn))))
(define (last-two kinds)
  (string-join (map symbol->string (take-right kinds 2)) " "))

(test-equal "bpf-object-kinds is the table's" (kind-names) bpf-object-kinds)
(test-equal "kind names are unique" (length bpf-object-kinds)
            (length (delete-duplicates bpf-object-kinds)))
(test-assert "every row has a program type and capabilities"
             (every (lambda (k) (and (symbol? (assq-ref k 'prog-type))
                                     (string? (assq-ref k 'capabilities))))
                    kind-table))
(test-equal "program types as libbpf names them"
            '(xdp sched-cls tracing kprobe)
            (map (lambda (k) (kind-ref k 'prog-type)) '(xdp tc fentry uprobe)))
(test-equal "expected attach types" '(#f trace-fentry lsm-mac)
            (map (lambda (k) (kind-ref k 'attach-type)) '(tracepoint fentry lsm)))
(test-assert "a bpf-fn kind has a section and a context"
             (every (lambda (k) (and (string? (kind-ref k 'section))
                                     (string? (kind-ref k 'context))))
                    lowered))
(test-equal "kinds bpf-fn does not lower" '(cgroup-sock fmod-ret)
            (lset-difference eq? bpf-object-kinds lowered))
(test-equal "fallbacks name kinds" '(kprobe)
            (kind-ref 'fentry 'fallbacks))
(test-assert "every fallback is a kind"
             (every (lambda (k) (every (lambda (f) (memq f bpf-object-kinds))
                                       (assq-ref k 'fallbacks)))
                    kind-table))
(test-assert "every fallback of the table stands in by the declaration rule"
             (every (lambda (k)
                      (every (lambda (f) (not (stand-in-problem (assq-ref k 'name) f)))
                             (assq-ref k 'fallbacks)))
                    kind-table))
(test-equal "context classes" '(packet socket trace trace)
            (map (lambda (k) (kind-ref k 'context-class))
                 '(tc cgroup-sock-addr fentry kprobe)))
(test-equal "attach functions" '(xdp cgroup trace kprobe kprobe uprobe socket)
            (map (lambda (k) (kind-ref k 'attach))
                 '(xdp cgroup-sock fentry kprobe kretprobe uretprobe socket-filter)))
(test-equal "return probes" '(fexit kretprobe uretprobe)
            (kinds-where (lambda (k) (memq 'return (assq-ref k 'flags)))))
(test-assert "a kind that needs a target at attach says what one is"
             (every (lambda (k)
                      (or (memq (assq-ref k 'attach) '(trace perf-event))
                          (string? (assq-ref k 'target))))
                    kind-table))
(test-equal "unknown kind" #f (kind-ref 'warp 'section))
(test-ebpf-error "the loader knows every kind, to the last"
                 'ebpf-validation-error
                 ("unknown program kind warp" "xdp tc " (last-two bpf-object-kinds))
                 (bpf-object-load "/nonexistent/km.o" #:kind 'warp))

;; The lowering writes the table's SEC() and context type, for every kind.
(bpf-fn km-probe (ctx) (let ((x 1)) x))
(for-each
 (lambda (kind)
   (let* ((in-sec (kind-ref kind 'target-in-section))
          (default (kind-ref kind 'default-attach-type))
          (target (and in-sec (not default) "sys_enter"))
          (sec (kind-ref kind 'section))
          (sec (if in-sec
                   (string-append (kind-ref kind 'section-prefix) "/"
                                  (or target (symbol->string default)))
                   sec))
          (want (string-append "SEC(\"" sec "\")\nint u_km_probe("
                               (kind-ref kind 'context) "ctx)"))
          (c (bpf-fn->c km-probe #:kind kind #:target target)))
     (test-assert (format #f "~a: SEC(~s), its context" kind sec)
                  (string-contains c want))))
 lowered)

(test-ebpf-error "the lowering knows the bpf-fn kinds, to the last"
                 'ebpf-validation-error
                 ("unknown program kind warp" "xdp tc " (last-two lowered))
                 (bpf-fn->c km-probe #:kind 'warp))
(test-assert "and no other"
             (not (false-if-exception (bpf-fn->c km-probe #:kind 'fmod-ret))))

(test-equal "default returns" '(2 0 -1 1 0)
            (map (lambda (k) (kind-ref k 'default-return))
                 '(xdp tc socket-filter cgroup-skb tracepoint)))
(test-equal "cgroup defaults" '(ingress connect4)
            (map (lambda (k) (kind-ref k 'default-attach-type))
                 '(cgroup-skb cgroup-sock-addr)))
(test-equal "cgroup hooks" '((ingress egress)
                             (sock-create sock-release post-bind4 post-bind6)
                             (connect4 connect6 bind4 bind6 sendmsg4 sendmsg6
                              recvmsg4 recvmsg6 getpeername4 getpeername6
                              getsockname4 getsockname6))
            (map (lambda (k) (kind-ref k 'attach-types))
                 '(cgroup-skb cgroup-sock cgroup-sock-addr)))
(test-assert "a default hook is one of the kind's hooks"
             (every (lambda (k)
                      (let ((d (assq-ref k 'default-attach-type)))
                        (or (not d) (memq d (assq-ref k 'attach-types)))))
                    kind-table))
(test-equal "only cgroup kinds have hooks"
            (kinds-where (lambda (k) (memq 'cgroup (assq-ref k 'flags))))
            (kinds-where (lambda (k) (pair? (assq-ref k 'attach-types)))))

;; defbpf-program: the known kinds and required targets come from it.
(define (decl . args)
  (make-bpf-program (let loop ((l args))
                      (if (null? l) '()
                          (cons (cons (keyword->symbol (car l)) (cadr l))
                                (loop (cddr l)))))))
(test-ebpf-error "a kind bpf-fn does not lower is refused, listing the others"
                 'ebpf-validation-error ("unknown kind" "fmod-ret" "perf-event")
                 (decl #:name "km-v1" #:kind 'fmod-ret #:source km-probe))
(for-each
 (lambda (kind)
   (test-ebpf-error (format #f "~a needs a target" kind) 'ebpf-validation-error
                    ("need a target")
                    (decl #:name "km-v2" #:kind kind #:source km-probe)))
 (kinds-where (lambda (k) (assq-ref k 'target-required))))
(test-ebpf-error "a stand-in of another context class is refused"
                 'ebpf-validation-error
                 ("km-v3" "tracepoint cannot stand in for xdp" "a packet"
                  "a traced event" "list only kinds whose context is a packet")
                 (decl #:name "km-v3" #:kind '(xdp tracepoint) #:attach "lo"
                       #:source km-probe))
(test-assert "stand-ins of the first kind's class are accepted"
             (every (lambda (kinds)
                      (bpf-program? (decl #:name "km-v4" #:kind kinds
                                          #:attach "sched_switch"
                                          #:source km-probe)))
                    '((fentry kprobe) (tp-btf raw-tracepoint)
                      (fentry tracepoint) (kprobe fentry))))
(test-equal "the kinds that need a target" '(xdp tc)
            (kinds-where (lambda (k) (assq-ref k 'target-required))))

;; bpfman's program types are the table's.
(test-assert "bpfman types"
             (every (lambda (k) (equal? (bpfman-program-type k)
                                        (kind-ref k 'bpfman-type)))
                    bpf-object-kinds))
(test-equal "bpfman runs xdp, not lsm" '("XDP" #f)
            (map bpfman-program-type '(xdp lsm)))

;; Map kinds.
(test-equal "bpf-map-kinds is the table's" map-kind-names bpf-map-kinds)
(test-equal "22 map kinds" 22 (length bpf-map-kinds))
(test-ebpf-error "unknown map kind lists the table" 'ebpf-validation-error
                 ("unknown map kind" "hash" "histogram")
                 (make-bpf-map '((name . km-bad) (kind . warp))))

(harness-end)
