;;; (ebpf bpfman) --- export a policy for bpfman and its Kubernetes operator.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; A policy written and tested on one host becomes what bpfman loads on a
;;; fleet: one BPF object per architecture holding every program and map
;;; of the policy (bpfman's model: one application is one object whose
;;; programs share its maps), a bytecode image (FROM scratch, the object
;;; alone at /, labels io.ebpf.programs and io.ebpf.maps), and a
;;; ClusterBpfApplication or BpfApplication (bpfman.io/v1alpha1) whose
;;; programs carry their links and whose globalData carries the constants.
;;; Nothing here touches the kernel.

(define-module (ebpf bpfman)
  #:use-module (ebpf error)
  #:use-module (ebpf build)
  #:use-module (ebpf fn)
  #:use-module (ebpf deploy)
  #:use-module ((ebpf deploy-build) #:select (resolve-source lowering-target
                                              combine-c))
  #:use-module ((ebpf kernel) #:select (kind-table))
  #:use-module (ebpf policy)
  #:use-module ((ebpf syntax) #:select (write-json-string))
  #:use-module (srfi srfi-1)
  #:use-module (rnrs bytevectors)
  #:use-module (ice-9 match)
  #:use-module (ice-9 regex)
  #:use-module (ice-9 format)
  #:use-module (ice-9 popen)
  #:use-module (ice-9 rdelim)
  #:export (bpf-policy-export
            bpfman-arches
            bpfman-program-type))

(define (fail subr fmt . args)
  (lambda (fix)
    (raise-ebpf-error 'ebpf-validation-error subr (apply format #f fmt args)
                      #:fix fix)))

;;; ------------------------------------------------------------------
;;; What bpfman runs.

;; guile-ebpf kind -> (CRD type . label spelling), for the kinds the
;; kernel model (csrc/kernel/kinds.c) gives a bpfman type.
(define bpfman-kinds
  (filter-map (lambda (k)
                (let ((type (assq-ref k 'bpfman-type))
                      (name (assq-ref k 'name)))
                  (and type (cons* name type (symbol->string name)))))
              kind-table))

;; What a kind bpfman does not run could be written as instead.
(define instead
  '((socket-filter . "tc (ingress) or xdp")
    (cgroup-skb . "tc on the pod's interface")
    (cgroup-sock-addr . "kprobe or fentry on the connect/bind functions")
    (raw-tracepoint . "tracepoint")
    (tp-btf . "tracepoint or fentry")
    (lsm . "fentry (bpfman runs no LSM programs)")
    (perf-event . "a tracepoint or kprobe (bpfman runs no perf-event programs)")))

(define (bpfman-program-type kind)
  "Return the @code{type} bpfman's CRDs give a program of guile-ebpf
@var{kind} (@code{\"XDP\"}, @code{\"TracePoint\"} ...), or @code{#f} for
a kind bpfman does not run."
  (and=> (assq-ref bpfman-kinds kind) car))

;; arch -> (bpf2go name, endianness, __TARGET_ARCH_ suffix, OCI arch).
(define arch-table
  '((amd64 "x86" "bpfel" "x86") (arm64 "arm64" "bpfel" "arm64")
    (s390x "s390" "bpfeb" "s390") (ppc64le "powerpc" "bpfel" "powerpc")
    (riscv64 "riscv" "bpfel" "riscv") (arm "arm" "bpfel" "arm")
    (386 "386" "bpfel" "x86") (loong64 "loongarch" "bpfel" "loongarch")))

(define (bpfman-arches)
  "Return the architectures @code{bpf-policy-export} builds for, as the
symbols of Go and OCI (@code{amd64}, @code{arm64}, @code{s390x} ...)."
  (map car arch-table))

(define (arch-object arch)
  (match (assq-ref arch-table arch)
    ((name endian . _) (format #f "bpf_~a_~a.o" name endian))))

(define (host-arch)
  (let ((m (utsname:machine (uname))))
    (cond ((string=? m "x86_64") 'amd64)
          ((string=? m "aarch64") 'arm64)
          ((member m '("s390x" "ppc64le" "riscv64")) (string->symbol m))
          (else 'amd64))))

;;; ------------------------------------------------------------------
;;; The programs of a policy, checked against what bpfman needs.

(define name-rx (make-regexp "^[a-zA-Z][a-zA-Z0-9_]+$"))

(define (program-of policy name)
  (or (bpf-program-lookup name)
      ((fail 'bpf-policy-export "policy ~a: no program named ~s"
             (bpf-policy-name policy) name)
       "declare it with defbpf-program before exporting")))

(define (export-kind p)
  ;; The first kind of the fallback list that bpfman runs.
  (let ((kinds (bpf-program-kinds p)))
    (or (find bpfman-program-type kinds)
        ((fail 'bpf-policy-export "program ~a: bpfman does not run ~a programs"
               (bpf-program-name p) (car kinds))
         (format #f "write it as ~a"
                 (or (assq-ref instead (car kinds)) "xdp, tc or tracepoint"))))))

(define* (lowering-of p kind #:optional instance-suffix)
  ;; What bpf-fn-lowering gives for P's bpf-fn as KIND (its target one
  ;; string, checked by lower-program).
  (let ((target (bpf-program-target p)))
    (bpf-fn-lowering (resolve-source p) #:kind kind
                     #:target (and (string? target)
                                   (lowering-target kind target p))
                     #:constants (bpf-program-constants p)
                     #:license (bpf-program-license p)
                     #:instance-suffix instance-suffix)))

;; One program, lowered: (program kind fn-name c-text lowering), LOWERING
;; being the result alist of bpf-fn-lowering.
(define (lower-program p)
  (let* ((kind (export-kind p))
         (src (resolve-source p))
         (target (bpf-program-target p)))
    (unless (bpf-fn? src)
      ((fail 'bpf-policy-export "program ~a: its source ~s is not a bpf-fn"
             (bpf-program-name p) src)
       "write the program as a bpf-fn (one object is built from the policy's bpf-fns)"))
    (when (and (memq kind '(tracepoint kprobe kretprobe uprobe uretprobe
                            fentry fexit))
               (or (list? target)
                   (and (string? target)
                        (string-index target (char-set #\* #\? #\[)))))
      ((fail 'bpf-policy-export "program ~a: target ~s is a glob or a list"
             (bpf-program-name p) target)
       "give bpfman one exact target per program"))
    (let* ((r (lowering-of p kind))
           (c (assq-ref r 'c))
           (fname (assq-ref r 'function)))
      (unless (and fname (regexp-exec name-rx fname)
                   (<= (string-length fname) 64))
        ((fail 'bpf-policy-export
               "program ~a: function name ~s is not one bpfman accepts"
               (bpf-program-name p) fname)
         "name the bpf-fn with a letter then letters, digits or _ (at most 64)"))
      (list p kind fname c r))))

;;; ------------------------------------------------------------------
;;; One translation unit for the whole policy (the combining is shared
;;; with policies' loads, in (ebpf deploy-build)).

(define (bpfman-object-c policy-name lowered)
  ;; The C text of one unit holding the programs LOWERED, as
  ;; lower-program gives them.
  (combine-c (format #f "/* Generated by guile-ebpf from (defbpf-policy ~a ...) for bpfman.  */\n"
                     policy-name)
             (map (match-lambda
                    ((p kind fname c r)
                     (list p r (lambda (suffix) (lowering-of p kind suffix)))))
                  lowered)
             (lambda (p what)
               (if (eq? what 'license)
                   ((fail 'bpf-policy-export
                          "program ~a: its license differs from the other programs'"
                          (bpf-program-name p))
                    "give every program of the policy the same #:license")
                   ((fail 'bpf-policy-export
                          "program ~a: its ~a differs from another program's of the policy"
                          (bpf-program-name p) what)
                    "give the programs one declaration of it (a defbpf-struct or defbpf-map declared once)")))))

(define (object-maps lowered)
  ;; ((symbol . bpfman-type) ...) of the maps the programs' object
  ;; declares, each once, as their lowerings list them.
  (define (bpfman-type t)
    (cond ((string=? t "percpu_array") "per_cpu_array")
          ((string=? t "percpu_hash") "per_cpu_hash")
          ((string=? t "lru_percpu_hash") "lru_per_cpu_hash")
          ((string=? t "percpu_cgroup_storage") "per_cpu_cgroup_storage")
          (else t)))
  (fold (lambda (l acc)
          (match l
            ((p kind fname c r)
             (fold (lambda (m acc)
                     (match m
                       ((name symbol type)
                        (if (assoc symbol acc)
                            acc
                            (append acc (list (cons symbol (bpfman-type type))))))))
                   acc (assq-ref r 'maps)))))
        '() lowered))

;;; ------------------------------------------------------------------
;;; clang, once per architecture.

(define (arch-flags arch)
  (match (assq-ref arch-table arch)
    ((_ endian target-arch . _)
     (let loop ((f (bpf-clang-flags)) (acc '()))
       (match f
         (() (reverse (cons (string-append "-D__TARGET_ARCH_" target-arch) acc)))
         (("-target" _ . rest) (loop rest (cons* endian "-target" acc)))
         ((x . rest)
          (loop rest (if (string-prefix? "-D__TARGET_ARCH_" x) acc (cons x acc)))))))))

(define (run-clang c flags out)
  (let* ((cfile (string-append out ".c"))
         (log (string-append out ".log")))
    (call-with-output-file cfile (lambda (port) (display c port)))
    (let ((status (apply system* "sh" "-c"
                         "log=$1; shift; exec \"$@\" 2>\"$log\""
                         "sh" log "clang" (append flags (list "-c" cfile "-o" out))))
          (text (if (file-exists? log)
                    (call-with-input-file log read-string)
                    "")))
      (when (file-exists? log) (delete-file log))
      (delete-file cfile)
      (unless (and (integer? status) (zero? (status:exit-val status)))
        (raise-ebpf-error 'ebpf-compile-error 'bpf-policy-export
                          (format #f "clang failed on the policy's object ~a: ~a"
                                  (basename out)
                                  (if (string? text) (string-trim-right text) ""))
                          #:fix "check that each program builds alone (bpf-load!), then that no two programs declare one name differently"
                          #:details `((c . ,c)))))))

(define (build-object c arch out)
  (run-clang c (arch-flags arch) out))

;;; ------------------------------------------------------------------
;;; JSON, YAML and base64, as small as the files need.

(define (json-string s)
  (call-with-output-string (lambda (port) (write-json-string s port))))

(define (json-object alist)
  (string-append
   "{" (string-join (map (lambda (kv)
                           (string-append (json-string (car kv)) ":"
                                          (json-string (cdr kv))))
                         alist)
                    ",")
   "}"))

;; YAML nodes: (map (KEY . NODE) ...), #(NODE ...), string, integer, #t/#f.
(define (yaml-scalar x)
  (cond ((string? x) (json-string x))
        ((eq? x #t) "true")
        ((eq? x #f) "false")
        ((number? x) (number->string x))
        ((symbol? x) (json-string (symbol->string x)))
        (else (error "bad yaml scalar" x))))

(define (yaml-key k)
  ;; Plain when it cannot be misread (label keys such as
  ;; app.kubernetes.io/name), else double-quoted.
  (let ((s (format #f "~a" k)))
    (if (string-match "^[A-Za-z_][A-Za-z0-9_./-]*$" s) s (json-string s))))

(define (yaml-empty? x)
  (or (equal? x '(map)) (equal? x #())))

(define (write-yaml node indent port)
  (let ((pad (make-string indent #\space)))
    (match node
      (('map . kvs)
       (for-each
        (lambda (kv)
          (let ((k (car kv)) (v (cdr kv)))
            (cond
             ((yaml-empty? v)
              (format port "~a~a: ~a~%" pad (yaml-key k) (if (vector? v) "[]" "{}")))
             ((or (vector? v) (and (pair? v) (eq? (car v) 'map)))
              (format port "~a~a:~%" pad (yaml-key k))
              (write-yaml v (+ indent 2) port))
             (else (format port "~a~a: ~a~%" pad (yaml-key k) (yaml-scalar v))))))
        kvs))
      ((? vector? v)
       (for-each
        (lambda (item)
          (cond
           ((and (pair? item) (eq? (car item) 'map) (pair? (cdr item)))
            ;; "- " then the mapping, its first key on the dash's line.
            (let ((s (call-with-output-string
                       (lambda (p) (write-yaml item (+ indent 2) p)))))
              (format port "~a- ~a" pad (substring s (+ indent 2)))))
           (else (format port "~a- ~a~%" pad (yaml-scalar item)))))
        (vector->list v))))))

(define b64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

(define (base64 bv)
  (let ((n (bytevector-length bv)))
    (call-with-output-string
      (lambda (port)
        (let loop ((i 0))
          (when (< i n)
            (let* ((b0 (bytevector-u8-ref bv i))
                   (b1 (if (< (+ i 1) n) (bytevector-u8-ref bv (+ i 1)) 0))
                   (b2 (if (< (+ i 2) n) (bytevector-u8-ref bv (+ i 2)) 0))
                   (w (logior (ash b0 16) (ash b1 8) b2)))
              (write-char (string-ref b64 (ash w -18)) port)
              (write-char (string-ref b64 (logand (ash w -12) 63)) port)
              (write-char (if (< (+ i 1) n) (string-ref b64 (logand (ash w -6) 63)) #\=) port)
              (write-char (if (< (+ i 2) n) (string-ref b64 (logand w 63)) #\=) port)
              (loop (+ i 3)))))))))

;;; ------------------------------------------------------------------
;;; The application.

(define (c-name x)
  (string-map (lambda (ch) (if (char=? ch #\-) #\_ ch)) (format #f "~a" x)))

;; The policy's constants: ((C-NAME . VALUE) ...), those the object reads.
(define (policy-constants lowered)
  (fold
   (lambda (l acc)
     (match l
       ((p kind fname c r)
        (fold (lambda (kv acc)
                (let* ((name (c-name (car kv)))
                       (value (cdr kv))
                       (old (assoc name acc)))
                  (unless (integer? value)
                    ((fail 'bpf-policy-export "program ~a: constant ~a is not an integer"
                           (bpf-program-name p) name)
                     "give #:constants integer values"))
                  (cond
                   ((not (member name (assq-ref r 'constants)))
                    acc)
                   ((and old (not (= (cdr old) value)))
                    ((fail 'bpf-policy-export
                           "program ~a: constant ~a is ~a here but ~a in another program"
                           (bpf-program-name p) name value (cdr old))
                     "one object holds one value of each constant: give them the same value or different names"))
                   (old acc)
                   (else (append acc (list (cons name value)))))))
              acc (bpf-program-constants p)))))
   '() lowered))

(define (constant-bytes value)
  ;; (const NAME) is a __u64; bpfman writes the bytes as given, so they
  ;; are those of a little-endian machine.
  (let ((bv (make-bytevector 8 0)))
    (bytevector-u64-set! bv 0 (logand value #xffffffffffffffff) (endianness little))
    bv))

(define (tracepoint-name target)
  (string-map (lambda (ch) (if (char=? ch #\:) #\/ ch)) target))

(define (split-uprobe p target)
  ;; "LIB:SYMBOL" or "LIB:0xOFFSET" -> (values lib function offset)
  (let ((i (and (string? target) (string-rindex target #\:))))
    (unless i
      ((fail 'bpf-policy-export "program ~a: uprobe target ~s is not LIB:SYMBOL"
             (bpf-program-name p) target)
       "write #:attach \"/path/lib.so:symbol\" or \"libc:malloc\""))
    (let ((lib (substring target 0 i)) (sym (substring target (+ i 1))))
      (if (string-prefix? "0x" sym)
          (values lib #f (string->number (substring sym 2) 16))
          (values lib (car (string-split sym #\@)) #f)))))

(define (program-entry p kind fname index primary? namespaced?)
  (let* ((spec (bpf-program-attach-spec p))
         (target (bpf-program-target p))
         (pid (assq-ref spec 'pid))
         (priority (+ 50 (* 10 index)))
         (iface (if primary?
                    '(map (primaryNodeInterface . #t))
                    `(map (interfaces . ,(vector target)))))
         (type (bpfman-program-type kind))
         (key (string->symbol (string-downcase type))))
    ;; In a BpfApplication, links reach into the namespace's pods: every
    ;; pod of it (an empty selector).
    (define (in-pods link key)
      (if namespaced?
          (append link `((,key . (map (pods . (map))))))
          link))
    (define (links . l) `(map (links . ,(list->vector l))))
    `(map (name . ,fname)
          (type . ,type)
          (,key
           . ,(case kind
                ((xdp)
                 (links (in-pods `(map (interfaceSelector . ,iface)
                                       (priority . ,priority)
                                       (proceedOn . #("Pass" "DispatcherReturn")))
                                 'networkNamespaces)))
                ((tc tcx)
                 (links (in-pods
                         `(map (interfaceSelector . ,iface)
                               (priority . ,priority)
                               (direction
                                . ,(if (eq? (assq-ref spec 'direction) 'egress)
                                       "Egress" "Ingress"))
                               ,@(if (eq? kind 'tc)
                                     '((proceedOn . #("Pipe" "DispatcherReturn")))
                                     '()))
                         'networkNamespaces)))
                ((tracepoint)
                 (links `(map (name . ,(tracepoint-name target)))))
                ((kprobe kretprobe)
                 (links `(map (function . ,target))))
                ((uprobe uretprobe)
                 (call-with-values (lambda () (split-uprobe p target))
                   (lambda (lib function offset)
                     (links (in-pods
                             `(map ,@(if function `((function . ,function)) '())
                                   ,@(if offset `((offset . ,offset)) '())
                                   (target . ,lib)
                                   ,@(if pid `((pid . ,pid)) '()))
                             'containers)))))
                ((fentry fexit)
                 `(map (function . ,target)
                       (links . #((map (mode . "Attach")))))))))))

(define (k8s-name name)
  (string-map (lambda (ch) (if (char=? ch #\_) #\- ch)) (string-downcase name)))

(define (application policy lowered image namespace node-selector primary?)
  (let ((constants (policy-constants lowered)))
    `(map (apiVersion . "bpfman.io/v1alpha1")
          (kind . ,(if namespace "BpfApplication" "ClusterBpfApplication"))
          (metadata
           . (map (name . ,(k8s-name (bpf-policy-name policy)))
                  ,@(if namespace `((namespace . ,namespace)) '())
                  (labels . (map (app.kubernetes.io/name
                                  . ,(k8s-name (bpf-policy-name policy)))
                                 (app.kubernetes.io/managed-by . "guile-ebpf")))))
          (spec
           . (map (nodeSelector
                   . ,(if (null? node-selector)
                          '(map)
                          `(map (matchLabels
                                 . (map ,@(map (lambda (kv)
                                                 (cons (format #f "~a" (car kv))
                                                       (format #f "~a" (cdr kv))))
                                               node-selector))))))
                  (byteCode . (map (image . (map (url . ,image)
                                                 (imagePullPolicy . "IfNotPresent")))))
                  ,@(if (null? constants)
                        '()
                        `((globalData
                           . (map ,@(map (lambda (kv)
                                           (cons (car kv)
                                                 (base64 (constant-bytes (cdr kv)))))
                                         constants)))))
                  (programs
                   . ,(list->vector
                       (let loop ((l lowered) (i 0) (acc '()))
                         (match l
                           (() (reverse acc))
                           (((p kind fname c . _) . rest)
                            (loop rest (+ i 1)
                                  (cons (program-entry p kind fname i primary?
                                                       (and namespace #t))
                                        acc))))))))))))

;;; ------------------------------------------------------------------
;;; The image, with buildah.

(define (containerfile programs maps default-object)
  (define (label-value s)
    ;; A Containerfile double-quoted word: \ and " escaped.
    (string-append "\""
                   (regexp-substitute/global #f "[\\\"]" s 'pre "\\" 0 'post)
                   "\""))
  (string-append
   "# Generated by guile-ebpf: a bpfman bytecode image (FROM scratch, the\n"
   "# object alone at /).  Build from the bytecode/ directory:\n"
   "#   buildah bud -f Containerfile.bytecode --build-arg BYTECODE_FILE=OBJ bytecode\n"
   "FROM scratch\n\n"
   "ARG BYTECODE_FILE=" default-object "\n"
   "ARG PROGRAMS=" (label-value programs) "\n"
   "ARG MAPS=" (label-value maps) "\n\n"
   "LABEL \"io.ebpf.programs\"=$PROGRAMS\n"
   "LABEL \"io.ebpf.maps\"=$MAPS\n\n"
   "COPY $BYTECODE_FILE /\n"))

(define (run who . args)
  (let* ((port (apply open-pipe* OPEN_READ "sh" "-c" "exec \"$@\" 2>&1" "sh" args))
         (out (read-string port))
         (status (close-pipe port)))
    (unless (zero? (status:exit-val status))
      (raise-ebpf-error 'ebpf-error 'bpf-policy-export
                        (format #f "~a failed: ~a" who (string-trim-right out))
                        #:fix (format #f "run the command by hand to see why: ~a"
                                      (string-join args " "))))
    out))

(define (delete-tree path)
  (when (file-exists? path)
    (system* "rm" "-rf" "--" path)))

(define (image-tag image)
  (let ((m (string-match ":([A-Za-z0-9_][A-Za-z0-9_.-]*)$" image)))
    (if (and m (not (string-index (match:substring m 1) #\/)))
        (match:substring m 1)
        "latest")))

(define (gzip? file)
  (call-with-input-file file
    (lambda (port)
      (let ((a (read-char port)) (b (read-char port)))
        (and (char? a) (char? b)
             (= (char->integer a) #x1f) (= (char->integer b) #x8b))))
    #:encoding "ISO-8859-1"))

(define (check-layers oci arches)
  ;; bpfman's loader reads the first entry of the layer: it must be the
  ;; object (a tool that puts "." or a directory first breaks it).  The
  ;; layers are the gzip blobs of the layout; the rest is JSON.
  (let* ((blobs (string-append oci "/blobs/sha256"))
         (layers (filter gzip?
                         (map (lambda (f) (string-append blobs "/" f))
                              (or (scandir* blobs) '()))))
         (objects (map arch-object arches)))
    (unless (= (length layers) (length arches))
      (raise-ebpf-error 'ebpf-error 'bpf-policy-export
                        (format #f "the image has ~a layers for ~a architectures"
                                (length layers) (length arches))
                        #:fix "build it again; each architecture's image has one layer"))
    (for-each
     (lambda (layer)
       (let ((first (let ((l (string-split (run "tar" "tar" "-tzf" layer) #\newline)))
                      (if (pair? l) (car l) ""))))
         (unless (member first objects)
           (raise-ebpf-error 'ebpf-error 'bpf-policy-export
                             (format #f "a layer of the image starts with ~s, not the object"
                                     first)
                             #:fix "bpfman reads the layer's first entry: build the image with buildah COPY into scratch"))))
     layers)))

(define (scandir* dir)
  (and (file-exists? dir)
       (let ((d (opendir dir)))
         (let loop ((acc '()))
           (let ((e (readdir d)))
             (if (eof-object? e)
                 (begin (closedir d) (sort acc string<?))
                 (loop (if (member e '("." "..")) acc (cons e acc)))))))))

(define (build-image dir name arches programs maps image push)
  (unless (zero? (status:exit-val (system "command -v buildah >/dev/null 2>&1")))
    (raise-ebpf-error 'ebpf-error 'bpf-policy-export "buildah is not installed"
                      #:fix "apt-get install buildah (needed by #:build? and --build)"))
  (let* ((tmp (mkdtemp (string-append (or (getenv "TMPDIR") "/tmp")
                                      "/guile-ebpf-buildah-XXXXXX")))
         (store (list "--root" (string-append tmp "/root")
                      "--runroot" (string-append tmp "/run")
                      "--storage-driver" "vfs"))
         (list-name (string-append "guile-ebpf-" (k8s-name name)))
         (oci (string-append dir "/oci"))
         (tag (image-tag image)))
    (dynamic-wind
      (const #t)
      (lambda ()
        (apply run "buildah manifest create" "buildah"
               (append store (list "manifest" "create" list-name)))
        (for-each
         (lambda (arch)
           (let ((img (format #f "~a-~a" list-name arch)))
             (apply run "buildah bud" "buildah"
                    (append store
                            (list "bud" "--isolation" "chroot"
                                  "--arch" (symbol->string arch) "--os" "linux"
                                  "--build-arg" (string-append "BYTECODE_FILE="
                                                               (arch-object arch))
                                  "--build-arg" (string-append "PROGRAMS=" programs)
                                  "--build-arg" (string-append "MAPS=" maps)
                                  "-f" (string-append dir "/Containerfile.bytecode")
                                  "-t" img (string-append dir "/bytecode"))))
             (apply run "buildah manifest add" "buildah"
                    (append store (list "manifest" "add" "--arch" (symbol->string arch)
                                        "--os" "linux" list-name
                                        (string-append "containers-storage:localhost/"
                                                       img))))))
         arches)
        (delete-tree oci)
        (apply run "buildah manifest push" "buildah"
               (append store (list "manifest" "push" "--all" list-name
                                   (string-append "oci:" oci ":" tag))))
        (check-layers oci arches)
        (when push
          (apply run "buildah manifest push" "buildah"
                 (append store (list "manifest" "push" "--all" list-name
                                     (string-append "docker://" push))))))
      (lambda ()
        ;; vfs layers are plain directories: remove the whole store.
        (delete-tree tmp)))
    tag))

;;; ------------------------------------------------------------------
;;; The entry point.

(define* (bpf-policy-export policy #:key (format 'bpfman) dir image namespace
                            (node-selector '()) (arches (list (host-arch)))
                            primary-node-interface? build? push)
  "Export @var{policy} (a policy or its name) for bpfman into the
directory @var{dir}: @file{bytecode/} with one object per architecture of
@var{arches} (default the host's; see @code{bpfman-arches}) holding every
program and map of the policy, named as bpf2go names them
(@file{bpf_x86_bpfel.o}, @file{bpf_arm64_bpfel.o},
@file{bpf_s390_bpfeb.o}); @file{Containerfile.bytecode}, bpfman's image
shape with the labels @code{io.ebpf.programs} and @code{io.ebpf.maps};
and @file{POLICY.yaml}, a @code{ClusterBpfApplication} (a
@code{BpfApplication} in @var{namespace} when given) of
@code{bpfman.io/v1alpha1} for the image @var{image} (default
@code{localhost/POLICY:latest}), its @code{nodeSelector} the
@code{matchLabels} of the alist @var{node-selector} (every node when
empty).  XDP and TC links name the program's interface, or the node's
primary interface with @var{primary-node-interface?}; their priorities
follow the policy's order.  The constants of the programs become
@code{globalData}.

With @var{build?} the image is built with buildah into @file{DIR/oci/}
(an OCI layout: one manifest per architecture under an index, tagged as
@var{image}'s tag); with @var{push} (an image reference) it is pushed
there too.  Returns an alist: @code{objects}, @code{yaml},
@code{containerfile}, @code{programs}, @code{maps}, @code{global-data},
and @code{oci} when built (the image as skopeo names it,
@code{oci:DIR/oci:TAG}).

Raises @code{ebpf-validation-error} naming the program for what bpfman
cannot run (a kind it does not load, a name it refuses, a glob target, a
source that is not a bpf-fn, conflicting constants, constants for a
big-endian architecture),
@code{ebpf-compile-error} when clang fails, and @code{ebpf-error} when
buildah fails or a layer of the image does not start with the object."
  (let* ((policy (cond ((bpf-policy? policy) policy)
                       ((bpf-policy-lookup policy))
                       (else ((fail 'bpf-policy-export "no policy named ~s" policy)
                              "declare it with defbpf-policy"))))
         (name (bpf-policy-name policy)))
    (unless (eq? format 'bpfman)
      ((fail 'bpf-policy-export "unknown export format ~s" format)
       "use #:format 'bpfman"))
    (unless (string? dir)
      ((fail 'bpf-policy-export "policy ~a: no #:dir" name)
       "give #:dir, the directory to write into"))
    (for-each (lambda (a)
                (unless (assq a arch-table)
                  ((fail 'bpf-policy-export "unknown architecture ~s" a)
                   (simple-format #f "use some of ~a" (bpfman-arches)))))
              arches)
    (when (and namespace (not (string-match "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" namespace)))
      ((fail 'bpf-policy-export "~s is not a Kubernetes namespace" namespace)
       "use lower-case letters, digits and -"))
    (when (null? (bpf-policy-programs policy))
      ((fail 'bpf-policy-export "policy ~a has no program" name)
       "add #:programs to the policy"))
    (let* ((programs (map (lambda (n) (program-of policy n))
                          (bpf-policy-programs policy)))
           (lowered (map lower-program programs))
           (_ (when namespace
                (for-each
                 (match-lambda
                   ((p kind . _)
                    (unless (memq kind '(xdp tc tcx uprobe uretprobe))
                      ((fail 'bpf-policy-export
                             "program ~a: a namespaced BpfApplication cannot hold ~a programs"
                             (bpf-program-name p) kind)
                       "export without #:namespace (a ClusterBpfApplication), or keep only xdp, tc, tcx, uprobe and uretprobe programs in this policy"))))
                 lowered)))
           (_ (let ((be (filter (lambda (a)
                                  (equal? (caddr (assq a arch-table)) "bpfeb"))
                                arches))
                    (constants (policy-constants lowered)))
                (when (and (pair? be) (pair? constants))
                  ((fail 'bpf-policy-export
                         "policy ~a: constant ~a goes into globalData as little-endian bytes, which ~a (big-endian) would misread"
                         name (caar constants) (car be))
                   "export big-endian architectures as another policy without #:constants, or leave them out of #:arches"))))
           (fnames (map caddr lowered))
           (_ (let loop ((l fnames))
                (when (pair? l)
                  (when (member (car l) (cdr l))
                    ((fail 'bpf-policy-export
                           "policy ~a: two programs have the function ~a"
                           name (car l))
                     "bpfman names programs by function: give each bpf-fn its own name"))
                  (loop (cdr l)))))
           (c (bpfman-object-c name lowered))
           (maps (object-maps lowered))
           (prog-label (json-object (map (lambda (l)
                                           (cons (caddr l)
                                                 (cdr (assq-ref bpfman-kinds (cadr l)))))
                                         lowered)))
           (map-label (json-object maps))
           (image (or image (string-append "localhost/" (k8s-name name) ":latest")))
           (app (application policy lowered image namespace node-selector
                             primary-node-interface?))
           (bytecode (string-append dir "/bytecode"))
           (yaml (string-append dir "/" name ".yaml"))
           (cfile (string-append dir "/Containerfile.bytecode")))
      (system* "mkdir" "-p" bytecode)
      (let ((objects
             (map (lambda (arch)
                    (let ((out (string-append bytecode "/" (arch-object arch))))
                      (build-object c arch out)
                      out))
                  arches)))
        (call-with-output-file (string-append dir "/" name ".bpf.c")
          (lambda (port) (display c port)))
        (call-with-output-file cfile
          (lambda (port)
            (display (containerfile prog-label map-label
                                    (arch-object (car arches)))
                     port)))
        (call-with-output-file yaml
          (lambda (port)
            (display "---\n" port)
            (write-yaml app 0 port)))
        (let ((tag (and (or build? push)
                        (build-image dir name arches prog-label map-label
                                     image push))))
          `((objects . ,objects)
            (yaml . ,yaml)
            (containerfile . ,cfile)
            (programs . ,prog-label)
            (maps . ,map-label)
            (global-data . ,(policy-constants lowered))
            ,@(if tag `((oci . ,(string-append "oci:" dir "/oci:" tag))) '())))))))
