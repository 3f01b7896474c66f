;;; bpf-help and the REPL's meta-commands.  The commands are driven
;;; through a real Guile REPL reading from a pipe (guile -q < pipe) and
;;; their output is checked; bpf-help's examples are evaluated.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 popen)
             (ice-9 rdelim) (ice-9 match))

(harness-begin "repl" 'kernel)

;; ---- bpf-help ----

(define (help-text what)
  (with-output-to-string (lambda () (bpf-help what))))

(test-assert "every declaration form is documented"
             (lset<= eq? '(defbpf-map defbpf-program defbpf-struct bpf-fn)
                     (bpf-help-topics)))
(for-each
 (lambda (form fields)
   (let ((text (help-text form)))
     (test-assert (format #f "~a: usage, fields, example" form)
                  (and (string-contains text "Usage: (")
                       (string-contains text "Example:")))
     (for-each (match-lambda
                 ((name default doc)
                  (test-assert (format #f "~a: field ~a with its doc" form name)
                               (string-contains text doc))))
               fields)))
 '(defbpf-map defbpf-program)
 (list bpf-map-fields bpf-program-fields))
(test-assert "defaults are shown" (string-contains (help-text 'defbpf-map) "10240"))
(when (memq 'defbpf-policy (bpf-help-topics))
  (test-assert "defbpf-policy: fields of (ebpf policy)"
               (string-contains (help-text 'defbpf-policy) "#:programs")))
(test-assert "a procedure's documentation"
             (string-contains (help-text 'bpf-hist) "(LOW HIGH COUNT)"))
(test-assert "no argument: the forms and the meta-commands"
             (string-contains (help-text #f) ",bpf-dump MAP"))
(test-ebpf-error "unknown topic" 'ebpf-validation-error ("no help" "defbpf-map")
                 (bpf-help 'no-such-thing))

;; Every example works: evaluated in a fresh module using (ebpf).
(for-each
 (lambda (form)
   (let ((example (bpf-help-example form)))
     (test-assert (format #f "the ~a example evaluates" form)
                  (let ((m (make-fresh-user-module)))
                    (module-use! m (resolve-interface '(ebpf)))
                    (call-with-input-string example
                      (lambda (in)
                        (let lp ((last #f))
                          (let ((x (read in)))
                            (if (eof-object? x)
                                (or last #t)
                                (lp (eval x m)))))))))))
 (bpf-help-topics))

;; ---- meta-commands through a real REPL ----

(define guile (readlink "/proc/self/exe"))

(define (repl-session . lines)
  ;; Feed LINES to `guile -q' through a pipe; return what it printed.
  (let ((in (string-append "/tmp/guile-ebpf-repl-" (number->string (getpid)))))
    (call-with-output-file in
      (lambda (p) (for-each (lambda (l) (display l p) (newline p)) lines)))
    (let* ((p (open-input-pipe
               (format #f "cat ~a | ~a -q --no-auto-compile 2>&1" in guile)))
           (out (read-string p)))
      (close-pipe p)
      (delete-file in)
      out)))

(define out
  (repl-session
   "(use-modules (ebpf))"
   "(defbpf-map counts #:kind 'hash #:key 'u32 #:value 'u64)"
   "(bpf-map-set-all! counts '((1 . 10) (2 . 5) (3 . 7)))"
   "(defbpf-map lat #:kind 'histogram)"
   "(bpf-map-set! lat 3 1)"
   "(bpf-fn drop-syn (ctx) (if (= (proto ctx) :tcp) (return :xdp-drop) (return :xdp-pass)))"
   "(defbpf-program drop-syn-flood #:kind 'xdp #:attach \"lo\" #:source drop-syn)"
   "(display \"<bpf-c>\\n\")"
   ",bpf-c drop-syn"
   "(display \"<bpf-maps>\\n\")"
   ",bpf-maps"
   "(display \"<bpf-dump counts>\\n\")"
   ",bpf-dump counts"
   "(display \"<bpf-dump lat>\\n\")"
   ",bpf-dump lat"
   "(display \"<bpf-progs>\\n\")"
   ",bpf-progs"
   "(display \"<bpf-features>\\n\")"
   ",bpf-features"
   "(display \"<bpf-help>\\n\")"
   ",bpf-help defbpf-program"
   "(display \"<bpf-dump nosuch>\\n\")"
   ",bpf-dump nosuch"
   "(display \"<help ebpf>\\n\")"
   ",help ebpf"
   "(display \"<end>\\n\")"))

(define (section name)
  ;; The output between the marker <NAME> and the next marker.
  (let* ((start (string-contains out (string-append "<" name ">\n")))
         (from (and start (+ start (string-length name) 3)))
         (end (and from (string-contains out "\n<" from))))
    (if from (substring out from (or end (string-length out))) "")))

(test-assert "the session ran to the end" (string-contains out "<end>"))
(test-assert ",bpf-c prints the generated C"
             (let ((s (section "bpf-c")))
               (and (string-contains s "SEC(\"xdp\")")
                    (string-contains s "int u_drop_syn(struct xdp_md *ctx)"))))
(test-assert ",bpf-maps lists the declared maps"
             (let ((s (section "bpf-maps")))
               (and (string-contains s "counts               hash             u32")
                    (string-contains s "lat                  histogram"))))
(test-assert ",bpf-dump of a hash: @NAME[KEY]: VALUE by value"
             (string-contains (section "bpf-dump counts")
                              "@counts[2]: 5\n@counts[3]: 7\n@counts[1]: 10"))
(test-assert ",bpf-dump of a histogram draws it"
             (let ((s (section "bpf-dump lat")))
               (and (string-contains s "@lat:\n[4, 8)")
                    (string-contains s "|@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"))))
(test-assert ",bpf-progs lists the declared programs"
             (let ((s (section "bpf-progs")))
               (and (string-contains s "drop-syn-flood")
                    (string-contains s "xdp")
                    (string-contains s "lo")
                    (string-contains s "declared"))))
(test-assert ",bpf-features"
             (let ((s (section "bpf-features")))
               (and (string-contains s "kernel-release:")
                    (string-contains s "ringbuf:"))))
(test-assert ",bpf-help FORM"
             (let ((s (section "bpf-help")))
               (and (string-contains s "Usage: (defbpf-program")
                    (string-contains s "#:attach"))))
(test-assert ",bpf-dump of an unknown map says so, the REPL goes on"
             (string-contains (section "bpf-dump nosuch") "ebpf-map-error: no map nosuch"))
(test-assert ",help ebpf lists the commands"
             (let ((s (section "help ebpf")))
               (every (lambda (c) (string-contains s c))
                      '(",bpf-c" ",bpf-maps" ",bpf-progs" ",bpf-dump" ",bpf-features"
                        ",bpf-help"))))

(harness-end)
