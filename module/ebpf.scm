;;; (ebpf) --- write, load and operate eBPF programs from GNU Guile.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; The public surface: this module re-exports the public interface of
;;; each submodule, so (use-modules (ebpf)) is all a user needs.
;;; (ebpf metrics) and (ebpf repl) are loaded when first used: a script
;;; that serves no metrics and runs no REPL does not pay for them (the
;;; REPL's own modules among them).

(define-module (ebpf)
  #:use-module (ebpf error)
  #:use-module (ebpf types)
  #:use-module (ebpf map)
  #:use-module (ebpf features)
  #:use-module (ebpf build)
  #:use-module (ebpf packet)
  #:use-module (ebpf fn)
  #:use-module ((ebpf program) #:hide (bpf-test-run bpf-attach-socket!))
  #:use-module (ebpf deploy)
  #:use-module (ebpf policy)
  #:use-module (ebpf bpfman)
  #:use-module (ebpf events)
  #:use-module ((ebpf syntax) #:select (set-user-interface!)))

;; What submodules export for each other, not for users.
(define internal
  '(((ebpf error) call-with-public-who)
    ((ebpf fn) located-body)
    ((ebpf map) map-of-kind)))

(define %lazy-modules
  ;; Module and the names it exports, loaded when one of them is used.
  '(((ebpf metrics) bpf-metrics bpf-serve-metrics bpf-metrics-server?
     bpf-metrics-server-port bpf-stop-metrics!)
    ((ebpf repl) bpf-help bpf-help-topics bpf-help-example)))

(define (load-repl-commands)
  ;; The REPL's meta-commands (,bpf-c ...) are defined by (ebpf repl):
  ;; loaded before a REPL reads its first line.
  (remove-hook! before-read-hook load-repl-commands)
  (resolve-interface '(ebpf repl)))

(let ((public (module-public-interface (current-module))))
  (for-each (lambda (name)
              (module-use! public
                           (resolve-interface name
                                              #:hide (or (assoc-ref internal name)
                                                         '()))))
            '((ebpf error) (ebpf types) (ebpf map) (ebpf features)
              (ebpf build) (ebpf packet) (ebpf fn) (ebpf deploy)
              (ebpf policy) (ebpf bpfman) (ebpf events)))
  (for-each (lambda (m)
              (module-use! public
                           (make-autoload-interface public (car m) (cdr m))))
            %lazy-modules)
  ;; (ebpf deploy)'s bpf-test-run takes programs as well as objects.
  (module-use! public (resolve-interface '(ebpf program)
                                         #:hide '(bpf-test-run
                                                  bpf-attach-socket!)))
  ;; Scheme files named by a program's #:source see this interface.
  (set-user-interface! public))

(add-hook! before-read-hook load-repl-commands)
