;;; modules.scm --- what each module of (ebpf) adds to the start-up.
;;;
;;; guile --no-auto-compile -s modules.scm MODULE ...
;;;
;;; Loads (oop goops) (which every foreign object type of the C extension
;;; needs), (ebpf core) (the C extension), then each MODULE given as a
;;; string "(ebpf map)" in turn, then (ebpf) itself, and prints one line
;;; per step: "MODULE MILLISECONDS", the time that step added.  A module
;;; is charged for what it is the first to load.

(define last (get-internal-real-time))
(define (lap! what)
  (let ((now (get-internal-real-time)))
    (format #t "~a ~a~%" what
            (exact->inexact (/ (* 1000 (- now last))
                               internal-time-units-per-second)))
    (set! last now)))

(define (load-module! name)
  (resolve-interface name)
  (lap! (string-join (map symbol->string name) "/")))

(load-module! '(oop goops))
(load-module! '(ebpf core))
(for-each (lambda (arg)
            (load-module! (with-input-from-string arg read)))
          (cdr (command-line)))
(load-module! '(ebpf))
