;;; (ebpf) --- write, load and operate eBPF programs from GNU Guile.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; The public surface: this module re-exports the public interface of
;;; each submodule, so (use-modules (ebpf)) is all a user needs.
;;; The modules a program's life needs (maps, bpf-fn, defbpf-program,
;;; attach, detach) load with (ebpf); the others load when one of their
;;; names is first used, so that a one-liner does not pay for events,
;;; policies, bpfman, packets, metrics or the REPL (the REPL's own
;;; modules among them): a third of (ebpf)'s load time.

(define-module (ebpf)
  #:use-module (ebpf error)
  #:use-module (ebpf types)
  #:use-module (ebpf map)
  #:use-module (ebpf features)
  #:use-module (ebpf build)
  #:use-module (ebpf fn)
  #:use-module ((ebpf program) #:hide (bpf-test-run bpf-attach-socket!))
  #:use-module (ebpf deploy)
  #:use-module ((ebpf syntax) #:select (set-user-interface!)))

;; What submodules export for each other, not for users (a lazy
;; module's are those its list below leaves out).
(define internal
  '(((ebpf error) call-with-public-who)
    ((ebpf fn) located-body call-with-lowering-memo)
    ((ebpf map) map-of-kind)))

(define %lazy-modules
  ;; Module and the names of its that (ebpf) exports, loaded when one of
  ;; them is first looked up.  tests/manual.scm checks each list is the
  ;; module's exports less its internal names above.
  '(((ebpf packet) make-arp-packet make-icmp-packet make-tcp-packet
     make-udp-packet packet-checksum parse-packet)
    ((ebpf policy) bpf-pinned-policy-names bpf-policy-applied?
     bpf-policy-apply! bpf-policy-description bpf-policy-digest
     bpf-policy-doc bpf-policy-fail-at-step bpf-policy-fields
     bpf-policy-lookup bpf-policy-manifest bpf-policy-map bpf-policy-maps
     bpf-policy-name bpf-policy-names bpf-policy-pin-dir bpf-policy-pin-root
     bpf-policy-plan bpf-policy-print-plan bpf-policy-programs
     bpf-policy-remove! bpf-policy-run-dir bpf-policy-status bpf-policy?
     defbpf-policy make-bpf-policy)
    ((ebpf bpfman) bpf-policy-export bpfman-arches bpfman-program-type)
    ((ebpf events) bpf-hist bpf-ksym bpf-list-probes bpf-perf-close!
     bpf-perf-fd bpf-perf-poll bpf-perf-stats bpf-print-hist bpf-print-map
     bpf-probe-info bpf-record-type bpf-ringbuf-close! bpf-ringbuf-fd
     bpf-ringbuf-names bpf-ringbuf-poll bpf-ringbuf-running?
     bpf-ringbuf-set-wakeup! bpf-ringbuf-start! bpf-ringbuf-stats
     bpf-ringbuf-stop! bpf-ringbuf-wakeup bpf-stack-addresses
     bpf-stack-symbols bpf-trace-pipe bpf-usym)
    ((ebpf metrics) bpf-metrics bpf-serve-metrics bpf-metrics-server?
     bpf-metrics-server-port bpf-stop-metrics!)
    ((ebpf repl) bpf-help bpf-help-topics bpf-help-example)))

(define (load-repl-commands)
  ;; The REPL's meta-commands (,bpf-c ...) are defined by (ebpf repl):
  ;; loaded before a REPL reads its first line.  (ebpf repl) loads every
  ;; lazy module anyway, so one name of each is looked up too: their
  ;; interfaces then replace the autoload ones, and what lists (ebpf)'s
  ;; names (completion, apropos) sees all of them.
  (remove-hook! before-read-hook load-repl-commands)
  (resolve-interface '(ebpf repl))
  (for-each (lambda (m) (module-variable public (cadr m)))
            %lazy-modules))

(define public (module-public-interface (current-module)))

(for-each (lambda (name)
            (module-use! public
                         (resolve-interface name
                                            #:hide (or (assoc-ref internal name)
                                                       '()))))
          '((ebpf error) (ebpf types) (ebpf map) (ebpf features)
            (ebpf build) (ebpf fn) (ebpf deploy)))
(for-each (lambda (m)
            (module-use! public
                         (make-autoload-interface public (car m) (cdr m))))
          %lazy-modules)
;; (ebpf deploy)'s bpf-test-run takes programs as well as objects.
(module-use! public (resolve-interface '(ebpf program)
                                       #:hide '(bpf-test-run
                                                bpf-attach-socket!)))
;; Scheme files named by a program's #:source see this interface.
(set-user-interface! public)

(add-hook! before-read-hook load-repl-commands)
