;;; The manual's hand-written @deffn lines agree with the code: each
;;; {Scheme Procedure} with the arguments the procedure takes, each
;;; {Scheme Syntax} with the fields the form accepts, and the procedure
;;; reference (doc/reference.texi) with the line it takes its heading from.
;;;
;;; How an argument list is read (Texinfo markup removed first):
;;;   NAME            a required argument;
;;;   NAME @dots{}    a rest argument;
;;;   [NAME]          an optional argument; [A [B]] two, B after A;
;;;   [#:KW ...]      the keyword #:KW, with its value or default;
;;;   #:KW VALUE      the keyword #:KW, which the procedure requires;
;;;   [#:keyword value] @dots{}  the keywords named in the entry's text
;;;                   (@item #:KW, @code{#:KW}), for procedures whose
;;;                   keywords a table explains.
;;; The rules:
;;;   - required arguments come first, as many as the procedure has;
;;;     then the optional ones, as many as it has; a rest argument is
;;;     written if and only if it has one -- but a rest list beside #:key
;;;     holds the keywords themselves and is not written;
;;;   - every keyword written is one the procedure accepts, and every
;;;     keyword it accepts is written; #:allow-other-keys needs no
;;;     mention (and lets no other keyword be written); after the
;;;     [#:keyword value] @dots{} placeholder the keywords are checked
;;;     one way only: each one the text names is accepted;
;;;   - a procedure with a rest list and no #:key parses its arguments
;;;     itself: the optional arguments written are not counted, and the
;;;     keywords written are compared with its docstring's #:KW instead;
;;;   - names are not compared, only the number and kind of arguments:
;;;     C primitives have no names, and the manual may name an argument
;;;     for its reader (program where the code says prog);
;;;   - {Scheme Syntax}: defbpf-map, defbpf-program and defbpf-policy
;;;     have their outer @table of fields compared with the form's field
;;;     table (bpf-map-fields, bpf-program-fields, bpf-policy-fields);
;;;     other forms by name only (an exported macro);
;;;   - {bpf-fn Form} and {REPL Command} lines are not Scheme bindings
;;;     and are not checked here;
;;;   - every {Scheme Procedure} or {Scheme Syntax} line names a binding
;;;     of (ebpf) or (ebpf script), of that kind (a record accessor,
;;;     a macro in Guile, is a procedure);
;;;   - each heading of doc/reference.texi is the first {Scheme
;;;     Procedure} line of its name in the chapters, and passes the same
;;;     check.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (srfi srfi-26)
             (ice-9 rdelim) (ice-9 regex) (ice-9 match) (system vm program))

(harness-begin "deffn")

(load (string-append (srcdir) "/doc/reference.scm"))

;; Where a documented name is looked for: (ebpf), then the public
;; submodules (ebpf) does not re-export whole.
(define public-modules '((ebpf) (ebpf script)))

(define (public-binding name)
  ;; NAME's value, or #f; for a macro that is a procedure when used as a
  ;; value (a record accessor, a define-inlinable), that procedure.
  (let loop ((mods public-modules))
    (and (pair? mods)
         (let* ((iface (resolve-interface (car mods)))
                (v (module-variable iface (string->symbol name))))
           (if (and v (variable-bound? v))
               (let ((b (variable-ref v)))
                 (or (and (macro? b) (inlined-procedure iface (string->symbol name)))
                     b))
               (loop (cdr mods)))))))

(define (inlined-procedure iface sym)
  ;; The procedure the macro SYM of IFACE stands for as a value, or #f.
  (let ((m (make-fresh-user-module)))
    (module-use! m iface)
    (false-if-exception
     (let ((p (eval sym m)))
       (and (procedure? p) p)))))

;;; Reading an argument list.

(define (untexinfo s)
  ;; The argument text without markup: @dots{} -> ..., @var{x} -> x.
  (let* ((s (regexp-substitute/global #f "@dots\\{\\}" s 'pre "..." 'post))
         (s (regexp-substitute/global #f "@(var|code|samp|emph)\\{([^}]*)\\}" s
                                      'pre 2 'post))
         (s (regexp-substitute/global #f "@([@{}])" s 'pre 1 'post)))
    s))

(define (tokenize s)
  ;; Nested lists: a [...] group is (group ITEM ...); a string, a
  ;; parenthesised datum or a quoted one is one token.
  (define n (string-length s))
  (define (datum-end i)
    ;; The end of the datum starting at I.
    (cond ((>= i n) i)
          ((char=? (string-ref s i) #\")
           (let lp ((j (+ i 1)))
             (cond ((>= j n) j)
                   ((char=? (string-ref s j) #\\) (lp (+ j 2)))
                   ((char=? (string-ref s j) #\") (+ j 1))
                   (else (lp (+ j 1))))))
          ((char=? (string-ref s i) #\()
           (let lp ((j (+ i 1)) (depth 1))
             (cond ((or (>= j n) (zero? depth)) j)
                   ((char=? (string-ref s j) #\() (lp (+ j 1) (+ depth 1)))
                   ((char=? (string-ref s j) #\)) (lp (+ j 1) (- depth 1)))
                   (else (lp (+ j 1) depth)))))
          ((char=? (string-ref s i) #\') (datum-end (+ i 1)))
          (else
           (let lp ((j i))
             (if (or (>= j n) (memv (string-ref s j) '(#\space #\tab #\[ #\])))
                 j
                 (lp (+ j 1)))))))
  (let loop ((i 0) (stack '()) (acc '()))
    (cond ((>= i n)
           (if (null? stack) (reverse acc) (throw 'deffn "unbalanced [")))
          ((memv (string-ref s i) '(#\space #\tab)) (loop (+ i 1) stack acc))
          ((char=? (string-ref s i) #\[) (loop (+ i 1) (cons acc stack) '()))
          ((char=? (string-ref s i) #\])
           (when (null? stack) (throw 'deffn "unbalanced ]"))
           (loop (+ i 1) (cdr stack) (cons (cons 'group (reverse acc)) (car stack))))
          (else (let ((j (datum-end i)))
                  (loop j stack (cons (substring s i j) acc)))))))

(define (keyword-token? t)
  (and (string? t) (string-prefix? "#:" t) (> (string-length t) 2)))

(define (written-signature args)
  ;; What an argument list says: the numbers of required and optional
  ;; arguments, the rest argument's name or #f, the keywords ("#:KW"),
  ;; whether the keyword placeholder is used, and the problems in its
  ;; shape.
  (catch 'deffn
    (lambda () (read-signature (tokenize (untexinfo args))))
    (lambda (key message)
      `((required . 0) (optional . 0) (rest . #f) (keywords)
        (placeholder . #f) (problems ,message)))))

(define (read-signature items)
  (let loop ((items items)
             (req 0) (opt 0) (rest #f) (kws '()) (placeholder #f) (problems '()))
    (define (problem fmt . a) (cons (apply format #f fmt a) problems))
    (match items
      (()
       `((required . ,req) (optional . ,opt) (rest . ,rest)
         (keywords . ,(reverse kws)) (placeholder . ,placeholder)
         (problems . ,(reverse problems))))
      (((? string? w) "..." . more)
       (loop more req opt w kws placeholder
             (if (or (keyword-token? w) rest)
                 (problem "~a @dots{}: not a rest argument" w)
                 problems)))
      (((? keyword-token? k) . more)
       ;; A keyword written outside brackets: required by the procedure,
       ;; followed by its value's name.
       (let ((more (match more
                     (((? string? v) . m)
                      (if (or (keyword-token? v) (string=? v "...")) more m))
                     (_ more))))
         (loop more req opt rest (cons k kws) placeholder problems)))
      ((('group "#:keyword" . _) "..." . more)
       (loop more req opt rest kws #t problems))
      ((('group (? keyword-token? k) . _) . more)
       (loop more req opt rest (cons k kws) placeholder problems))
      ((('group . inner) . more)
       ;; Optional arguments: [A [B [C]]].
       (let count ((inner inner) (opt opt) (problems problems))
         (match inner
           (() (loop more req opt rest kws placeholder problems))
           (((? string? w) . in)
            (if (or (keyword-token? w) (string=? w "..."))
                (loop more req opt rest kws placeholder
                      (problem "[~a ...]: neither an optional argument nor a keyword" w))
                (count (match in ((('group . i2)) i2) (_ in))
                       (+ opt 1)
                       (if (match in ((('group . _)) #t) (() #t) (_ #f))
                           problems
                           (problem "[~a ~a]: one optional argument per bracket"
                                    w (car in))))))
           (_ (loop more req opt rest kws placeholder
                    (problem "[] with nothing in it"))))))
      (((? string? w) . more)
       (loop more (+ req 1) opt rest kws placeholder
             (if (or (> opt 0) (pair? kws) placeholder rest)
                 (problem "required argument ~a written after optional ones" w)
                 problems))))))

;;; What the procedure takes.

(define (real-signature proc)
  ;; ((required . N) (optional . N) (rest . #t/#f) (keywords "KW" ...)
  ;;  (allow-other-keys . #t/#f)), or #f for a procedure of several
  ;; arities.
  (match (or (and (program? proc) (program-arguments-alists proc)) '())
    ((alist)
     `((required . ,(length (assq-ref alist 'required)))
       (optional . ,(length (assq-ref alist 'optional)))
       (rest . ,(and (assq-ref alist 'rest) #t))
       (keywords . ,(map (compose symbol->string keyword->symbol car)
                         (assq-ref alist 'keyword)))
       (allow-other-keys . ,(assq-ref alist 'allow-other-keys?))))
    (()
     ;; Not a program (an applicable struct, say): its arity alone.
     (match (procedure-minimum-arity proc)
       ((req opt rest) `((required . ,req) (optional . ,opt) (rest . ,rest)
                         (keywords) (allow-other-keys . #f)))
       (_ #f)))
    (_ #f)))

(define (docstring-keywords proc)
  ;; The #:KW a docstring names.
  (delete-duplicates
   (map (lambda (m) (string-drop (match:substring m 1) 2))
        (list-matches "(#:[a-z][a-z0-9?!-]*)" (or (procedure-documentation proc) "")))))

(define (text-keywords text)
  ;; The #:KW an entry's text names in @item, @itemx or @code{}.
  (delete-duplicates
   (map (lambda (m) (match:substring m 2))
        (list-matches "(@itemx? +|@code\\{)#:([a-z][a-z0-9?!-]*)" text))))

(define (kw-names kws) (map (cut string-drop <> 2) kws))

(define (signature-problems proc args body)
  ;; The differences between the argument list ARGS written for PROC and
  ;; PROC; BODY is the entry's text.
  (let ((w (written-signature args))
        (r (real-signature proc)))
    (define (w@ k) (assq-ref w k))
    (define (r@ k) (assq-ref r k))
    (if (not r)
        (list "a procedure of several arities: not checked by this test; extend it")
        (let* ((written-kws (kw-names (w@ 'keywords)))
               (real-kws (r@ 'keywords))
               ;; A procedure with a rest list and no #:key parses its
               ;; own arguments: written optional ones and keywords are
               ;; in the rest list.
               (self-parsed? (and (r@ 'rest) (null? real-kws)
                                  (not (w@ 'rest))
                                  (or (pair? written-kws) (w@ 'placeholder)
                                      (> (w@ 'optional) 0))))
               (placeholder-kws (if (w@ 'placeholder) (text-keywords body) '()))
               (accepted (if self-parsed? (docstring-keywords proc) real-kws)))
          (append
           (w@ 'problems)
           (if (= (w@ 'required) (r@ 'required)) '()
               (list (format #f "~a required argument(s) written, the procedure takes ~a"
                             (w@ 'required) (r@ 'required))))
           (if (or self-parsed? (= (w@ 'optional) (r@ 'optional))) '()
               (list (format #f "~a optional argument(s) written, the procedure takes ~a"
                             (w@ 'optional) (r@ 'optional))))
           (cond ((and (w@ 'rest) (not (r@ 'rest)))
                  (list (format #f "rest argument ~a written, the procedure takes none"
                                (w@ 'rest))))
                 ;; A rest list beside #:key is the keywords themselves.
                 ((and (r@ 'rest) (not (w@ 'rest)) (not self-parsed?)
                       (null? real-kws))
                  (list "the procedure takes a rest argument, none written"))
                 (else '()))
           (if (and (w@ 'placeholder) (null? placeholder-kws))
               (list "[#:keyword value] @dots{} but the text names no #:keyword")
               '())
           (filter-map
            (lambda (k)
              (and (not (member k accepted))
                   (format #f "#:~a written, ~a" k
                           (if self-parsed?
                               "its docstring does not name it"
                               "the procedure does not accept it"))))
            (delete-duplicates (append written-kws placeholder-kws)))
           (if (w@ 'placeholder)
               '()
               (filter-map
                (lambda (k)
                  (and (not (member k written-kws))
                       (format #f "#:~a ~a, not written" k
                               (if self-parsed? "named by the docstring" "accepted"))))
                accepted)))))))

;;; The entries.

(define deffns (manual-deffns (srcdir)))

(define (body-of d)
  ;; The text of D's entry: from its line to the @end deffn.
  (let* ((text (call-with-input-file (string-append (srcdir) "/" (deffn-line-file d))
                 read-string))
         (lines (list->vector (string-split text #\newline)))
         (start (- (deffn-line-line d) 1)))
    (let loop ((i start) (acc '()))
      (if (or (>= i (vector-length lines))
              (and (> i start) (string-prefix? "@end deffn" (vector-ref lines i))))
          (string-join (reverse acc) "\n")
          (loop (+ i 1) (cons (vector-ref lines i) acc))))))

(define (top-table-fields body)
  ;; The @item (and @itemx) words of BODY's outer @table, #: removed;
  ;; the items of tables and lists inside it left out.
  (let loop ((lines (string-split body #\newline)) (blocks '()) (acc '()))
    (match lines
      (() (reverse acc))
      ((l . more)
       (cond ((string-match "^@(table|vtable|ftable|itemize|enumerate|multitable)( |$)" l)
              => (lambda (m) (loop more (cons (match:substring m 1) blocks) acc)))
             ((and (string-match "^@end (table|vtable|ftable|itemize|enumerate|multitable)" l)
                   (pair? blocks))
              (loop more (cdr blocks) acc))
             ((and (equal? blocks '("table"))
                   (string-match "^@itemx? +(#:)?([^ ]+)" l))
              => (lambda (m) (loop more blocks (cons (match:substring m 2) acc))))
             (else (loop more blocks acc)))))))

(define syntax-fields
  ;; The forms whose fields are a table in the code.
  `(("defbpf-map" . ,bpf-map-fields)
    ("defbpf-program" . ,bpf-program-fields)
    ("defbpf-policy" . ,bpf-policy-fields)))

(define (where d)
  (format #f "~a:~a: ~a" (deffn-line-file d) (deffn-line-line d) (deffn-line-name d)))

(define (entry-problems d)
  (let ((b (public-binding (deffn-line-name d))))
    (match (deffn-line-category d)
      ("Scheme Procedure"
       (cond ((not b) (list "not a binding of (ebpf) or (ebpf script)"))
             ((macro? b) (list "a macro: write {Scheme Syntax}"))
             ((not (procedure? b)) (list "not a procedure"))
             (else (signature-problems b (deffn-line-args d) (body-of d)))))
      ("Scheme Syntax"
       (cond ((not b) (list "not a binding of (ebpf) or (ebpf script)"))
             ((not (macro? b)) (list "not a macro: write {Scheme Procedure}"))
             ((assoc-ref syntax-fields (deffn-line-name d))
              => (lambda (table)
                   (let ((code (map symbol->string (map car table)))
                         (doc (top-table-fields (body-of d))))
                     (append
                      (filter-map (lambda (f)
                                    (and (not (member f code))
                                         (format #f "field ~a documented, the form has none" f)))
                                  doc)
                      (filter-map (lambda (f)
                                    (and (not (member f doc))
                                         (format #f "field ~a not in the fields table" f)))
                                  code)))))
             (else '())))
      (_ '()))))

(define checked
  (filter (lambda (d) (member (deffn-line-category d)
                              '("Scheme Procedure" "Scheme Syntax")))
          deffns))

(test-assert "the chapters have some procedure and syntax entries"
  (> (length checked) 200))
;; The modules are compiled: an interpreted procedure has no arity to
;; compare with.
(test-equal "bpf-map-ref's arguments are readable"
  '((required . 2) (optional . 1) (rest . #f) (keywords)
    (allow-other-keys . #f))
  (real-signature bpf-map-ref))
;; The reader itself, on the shapes the manual uses.
(test-equal "an argument list is read"
  '((required . 1) (optional . 2) (rest . #f) (keywords "#:pid" "#:dir")
    (placeholder . #f) (problems))
  (written-signature
   "map [start [end]] [#:pid (getpid)] #:dir @var{dir}"))
(test-equal "an unbalanced bracket is reported"
  '("unbalanced [")
  (assq-ref (written-signature "map [key") 'problems))
(test-equal "a misplaced required argument is reported"
  '("required argument b written after optional ones")
  (assq-ref (written-signature "[a] b") 'problems))

;; The check finds what it is for.
(test-equal "a missing required argument"
  '("1 required argument(s) written, the procedure takes 2")
  (signature-problems bpf-encode "type" ""))
(test-equal "an optional argument written as required"
  '("3 required argument(s) written, the procedure takes 2"
    "0 optional argument(s) written, the procedure takes 1")
  (signature-problems bpf-map-ref "map key default" ""))
(test-equal "a keyword the procedure does not take, one missing"
  '("#:kinds written, the procedure does not accept it"
    "#:kind accepted, not written")
  (signature-problems bpf-fn-maps "fn [#:kinds 'xdp]" ""))
(test-equal "a rest argument the procedure does not take"
  '("rest argument keys written, the procedure takes none")
  (signature-problems bpf-map-delete! "map key keys @dots{}" ""))
(test-equal "a keyword the docstring of a self-parsing procedure does not name"
  '("#:lines written, its docstring does not name it"
    "#:duration-ms named by the docstring, not written")
  (signature-problems bpf-trace-pipe "[#:lines 10] [#:match string] [port]" ""))
(test-equal "a keyword named in a placeholder's text"
  '("#:mss written, the procedure does not accept it")
  (signature-problems make-tcp-packet "[#:keyword value] @dots{}"
                      "@item #:sport\n@item #:mss\n"))
(test-equal "the outer table of fields"
  '("name" "kind" "attach")
  (top-table-fields "@table @code\n@item #:name\n@item #:kind\n@itemize\n@item 64\n@end itemize\n@item #:attach\n@table @code\n@item #:target\n@end table\n@end table"))

(for-each
 (lambda (d)
   (let ((problems (entry-problems d)))
     (unless (null? problems)
       (format #t "# ~a ~a~%~{#   ~a~%~}" (where d) (deffn-line-args d) problems))
     (test-assert (where d) (null? problems))))
 checked)

;; The procedure reference: each heading is the first {Scheme Procedure}
;; line of that name in the chapters (so it was checked above), and as
;; a heading it agrees with the procedure too.
(define first-lines
  (let ((t (make-hash-table)))
    (for-each (lambda (d)
                (when (and (string=? (deffn-line-category d) "Scheme Procedure")
                           (not (hash-ref t (deffn-line-name d))))
                  (hash-set! t (deffn-line-name d) d)))
              deffns)
    t))

(define reference-lines
  (let ((dir (string-append (srcdir) "/doc")))
    (file-deffns dir "reference.texi")))

(test-assert "the reference has some headings" (> (length reference-lines) 100))
(for-each
 (lambda (r)
   (let* ((name (deffn-line-name r))
          (first (hash-ref first-lines name))
          (b (public-binding name))
          (problems
           (append
            (if (and first (not (string=? (deffn-line-args r) (deffn-line-args first))))
                (list (format #f "heading ~s, but ~a:~a writes ~s (run make reference)"
                              (deffn-line-args r) (deffn-line-file first)
                              (deffn-line-line first) (deffn-line-args first)))
                '())
            (if (and b (procedure? b) (not (macro? b)))
                (signature-problems b (deffn-line-args r)
                                    (if first (body-of first) ""))
                (list "not a procedure of (ebpf)")))))
     (unless (null? problems)
       (format #t "# ~a ~a~%~{#   ~a~%~}" (where r) (deffn-line-args r) problems))
     (test-assert (string-append "reference heading " (where r)) (null? problems))))
 reference-lines)

(harness-end)
