;;; bpf-policy-export for bpfman: the objects (one per architecture, named
;;; as bpf2go names them), the application validated against bpfman's
;;; CRD schemas (test-suite/data/bpfman), the image built with buildah and
;;; read back with skopeo and tar, and the round trip: the object taken
;;; out of the image's layer, loaded with the object layer and its
;;; constants set from globalData, gives the same XDP verdicts under
;;; BPF_PROG_TEST_RUN as the program loaded directly, and the same
;;; tracepoint counts as the policy applied with bpf-policy-apply!.
(use-modules (harness) (ebpf) (ebpf packet) (srfi srfi-1) (srfi srfi-64)
             (rnrs bytevectors) (ice-9 rdelim) (ice-9 popen) (ice-9 match)
             (ice-9 regex) (ice-9 ftw))

(harness-begin "bpfman" 'fleet)

(define me (getpid))
(define tmp (format #f "/tmp/guile-ebpf-bpfman-~a" me))
(define data-dir (string-append (srcdir) "/test-suite/data/bpfman"))
(define builddir (or (getenv "abs_top_builddir") "."))
(define pre-inst-env (string-append builddir "/pre-inst-env"))
(system* "rm" "-rf" tmp)
(mkdir tmp)

(define (sh-out . args)
  ;; (values exit-status output) of ARGS, standard error included.
  (let* ((port (apply open-pipe* OPEN_READ "sh" "-c" "exec \"$@\" 2>&1" "sh" args))
         (out (read-string port))
         (status (close-pipe port)))
    (values (status:exit-val status) (if (eof-object? out) "" out))))
(define (output . args)
  (call-with-values (lambda () (apply sh-out args)) (lambda (rc out) out)))
(define (ok? . args)
  (call-with-values (lambda () (apply sh-out args)) (lambda (rc out) (zero? rc))))
(define (read-file f) (call-with-input-file f read-string))

;; A JSON object of strings -> sorted alist, through python3's json.
(define (json-alist text)
  (let ((lines (output "python3" "-c"
                       "import json,sys
d=json.loads(sys.argv[1])
assert isinstance(d, dict)
for k in sorted(d): print(k + '\\t' + d[k])" text)))
    (filter-map (lambda (l)
                  (let ((i (string-index l #\tab)))
                    (and i (cons (substring l 0 i) (substring l (+ i 1))))))
                (string-split lines #\newline))))

(define (decode-base64 s)
  (let* ((alphabet "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
         (s (string-delete #\= s))
         (bits (append-map (lambda (ch)
                             (let ((v (string-index alphabet ch)))
                               (map (lambda (i) (logand 1 (ash v (- i)))) '(5 4 3 2 1 0))))
                           (string->list s)))
         (n (quotient (length bits) 8))
         (bv (make-bytevector n)))
    (do ((i 0 (+ i 1))) ((= i n) bv)
      (bytevector-u8-set! bv i (fold (lambda (b acc) (+ (* 2 acc) b)) 0
                                     (take (drop bits (* 8 i)) 8))))))

;; The global symbols of an object: ((name type section-name size) ...).
(define (object-symbols obj)
  (let* ((sections
          (filter-map (lambda (l)
                        (let ((m (string-match "^ *\\[ *([0-9]+)\\] ([^ ]+)" l)))
                          (and m (cons (match:substring m 1) (match:substring m 2)))))
                      (string-split (output "readelf" "-SW" obj) #\newline))))
    (filter-map
     (lambda (l)
       (let ((m (string-match
                 "^ *[0-9]+: [0-9a-f]+ +([0-9]+) (FUNC|OBJECT) +GLOBAL +[A-Z]+ +([0-9]+) ([A-Za-z0-9_]+)$"
                 l)))
         (and m (list (match:substring m 4) (match:substring m 2)
                      (assoc-ref sections (match:substring m 3))
                      (string->number (match:substring m 1))))))
     (string-split (output "readelf" "-sW" obj) #\newline))))

(define (elf-data obj)
  ;; EI_DATA: 1 little-endian, 2 big-endian.
  (let ((bv (call-with-input-file obj (lambda (p) ((@ (ice-9 binary-ports) get-bytevector-n) p 6))
              #:binary #t)))
    (if (= (bytevector-u8-ref bv 5) 1) 'little 'big)))

(define (validate yaml)
  (call-with-values
      (lambda () (sh-out "python3" (string-append data-dir "/validate.py") data-dir yaml))
    (lambda (rc out)
      (unless (zero? rc) (format #t "# ~a~%" out))
      (zero? rc))))

;;; ------------------------------------------------------------------
;;; The policy: an XDP filter reading a constant, a tracepoint counting
;;; this process's getpid calls, one map shared by both.

(defbpf-map bpfman-t-hits #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)

(define xdp-fn
  (bpf-fn bpfman_t_xdp (ctx)
    (map-increment! bpfman-t-hits 0)
    (if (> (packet-length ctx) (const min-len))
        (return :xdp-drop)
        (return :xdp-pass))))

(define tp-fn
  (bpf-fn bpfman_t_tp (ctx)
    (when (= (pid) (const tgid))
      (map-increment! bpfman-t-hits 1))
    0))

(defbpf-program bpfman-t-xdp #:kind 'xdp #:attach "lo" #:source xdp-fn
  #:constants `((min-len . 100) (tgid . ,me)))
(defbpf-program bpfman-t-tp #:kind 'tracepoint
  #:attach "syscalls:sys_enter_getpid" #:source tp-fn
  #:constants `((tgid . ,me)))
(defbpf-policy bpfman-t #:programs '("bpfman-t-xdp" "bpfman-t-tp"))

(define dir (string-append tmp "/out"))
(define result
  (bpf-policy-export 'bpfman-t #:format 'bpfman #:dir dir
                     #:image "registry.example/guile-ebpf/bpfman-t:v1"
                     #:arches '(amd64 arm64) #:build? #t))
(define yaml (string-append dir "/bpfman-t.yaml"))
(define x86 (string-append dir "/bytecode/bpf_x86_bpfel.o"))

;;; ------------------------------------------------------------------
;;; The objects.

(test-equal "one object per architecture, named as bpf2go names them"
  '("bpf_arm64_bpfel.o" "bpf_x86_bpfel.o")
  (sort (map basename (assq-ref result 'objects)) string<?))

;; A policy without constants goes to big-endian machines too.
(defbpf-program bpfman-t-be #:kind 'tracepoint
  #:attach "syscalls:sys_enter_getpid" #:source tp-fn #:constants '((tgid . 1)))
(defbpf-program bpfman-t-be-xdp #:kind 'xdp #:attach "lo"
  #:source (bpf-fn bpfman_t_be_xdp (ctx) (map-increment! bpfman-t-hits 2)
             (return :xdp-pass)))
(defbpf-policy bpfman-t-be #:programs '("bpfman-t-be-xdp"))
(define be-result
  (bpf-policy-export 'bpfman-t-be #:dir (string-append tmp "/be")
                     #:arches '(amd64 s390x ppc64le riscv64)))
(test-equal "bpf2go's names for s390x, ppc64le, riscv64"
  '("bpf_powerpc_bpfel.o" "bpf_riscv_bpfel.o" "bpf_s390_bpfeb.o" "bpf_x86_bpfel.o")
  (sort (map basename (assq-ref be-result 'objects)) string<?))
(test-equal "bpfel objects are little-endian, bpfeb big-endian"
  '(little big little little)
  (map elf-data (assq-ref be-result 'objects)))
(test-assert "the s390 object holds the same symbols as the x86 one"
  (let ((objs (assq-ref be-result 'objects)))
    (equal? (map car (object-symbols (car objs)))
            (map car (object-symbols (cadr objs))))))
(defbpf-policy bpfman-t-be2 #:programs '("bpfman-t-be"))
(test-ebpf-error "constants are refused for a big-endian architecture"
  'ebpf-validation-error ("tgid" "s390x")
  (bpf-policy-export 'bpfman-t-be2 #:dir (string-append tmp "/be2")
                     #:arches '(amd64 s390x)))

(define x86-symbols (object-symbols x86))
(test-equal "every program of the policy is a global function of the object"
  '(("bpfman_t_tp" "FUNC") ("bpfman_t_xdp" "FUNC"))
  (sort (filter-map (lambda (s) (and (equal? (cadr s) "FUNC") (list (car s) (cadr s))))
                    x86-symbols)
        (lambda (a b) (string<? (car a) (car b)))))
(test-equal "the shared map is declared once, in .maps"
  '("bpfman_t_hits")
  (filter-map (lambda (s) (and (equal? (caddr s) ".maps") (car s))) x86-symbols))
(test-assert "the object carries BTF (XDP/TC entry points load as dispatcher extensions)"
  (string-contains (output "readelf" "-SW" x86) " .BTF "))

;;; ------------------------------------------------------------------
;;; The application.

(test-assert "the ClusterBpfApplication validates against bpfman's CRD schemas"
  (validate yaml))
(test-assert "the validator refuses a type without its sub-object"
  (let ((bad (string-append tmp "/bad.yaml")))
    (call-with-output-file bad
      (lambda (p)
        (display (regexp-substitute/global #f "type: \"XDP\"" (read-file yaml)
                                           'pre "type: \"TC\"" 'post)
                 p)))
    (not (validate bad))))

(define yaml-text (read-file yaml))
(test-assert "links: the XDP interface, its priority and proceedOn; the tracepoint"
  (and (string-contains yaml-text "kind: \"ClusterBpfApplication\"")
       (string-contains yaml-text "- name: \"bpfman_t_xdp\"\n      type: \"XDP\"")
       (string-contains yaml-text "interfaces:\n                - \"lo\"")
       (string-contains yaml-text "priority: 50")
       (string-contains yaml-text "- \"DispatcherReturn\"")
       (string-contains yaml-text "- name: \"syscalls/sys_enter_getpid\"")
       (string-contains yaml-text "url: \"registry.example/guile-ebpf/bpfman-t:v1\"")
       (string-contains yaml-text "nodeSelector: {}")))

;; globalData NAME -> bytes.
(define global-data
  (let ((m (string-match "globalData:\n((    [a-z_]+: \"[A-Za-z0-9+/=]+\"\n)+)" yaml-text)))
    (map (lambda (l)
           (let ((m (string-match "([a-z_]+): \"([^\"]+)\"" l)))
             (cons (match:substring m 1) (decode-base64 (match:substring m 2)))))
         (remove string-null? (string-split (match:substring m 1) #\newline)))))

(test-equal "globalData names the constants the object reads"
  '("min_len" "tgid")
  (sort (map car global-data) string<?))
(test-assert "each globalData value has the byte size of the object's variable"
  (every (lambda (kv)
           (let ((s (assoc (car kv) x86-symbols)))
             (and s (= (cadddr s) (bytevector-length (cdr kv))))))
         global-data))
(test-equal "globalData holds the values of #:constants"
  (list 100 me)
  (map (lambda (n) (bytevector-u64-ref (assoc-ref global-data n) 0 (endianness little)))
       '("min_len" "tgid")))

(test-assert "a namespaced BpfApplication and a node selector validate too"
  (let* ((d (string-append tmp "/ns")))
    (define-values (rc out)
      (sh-out pre-inst-env "guile" "-c"
              (format #f "(use-modules (ebpf)) (defbpf-program bpfman-t-ns #:kind 'xdp #:attach \"eth0\" #:source (bpf-fn bpfman_t_ns (ctx) (return :xdp-pass))) (defbpf-policy bpfman-t-ns #:programs '(\"bpfman-t-ns\")) (bpf-policy-export 'bpfman-t-ns #:dir ~s #:namespace \"team-a\" #:node-selector '((\"kubernetes.io/os\" . \"linux\")) #:primary-node-interface? #t)" d)))
    (unless (zero? rc) (format #t "# ~a~%" out))
    (let ((text (read-file (string-append d "/bpfman-t-ns.yaml"))))
      (and (validate (string-append d "/bpfman-t-ns.yaml"))
           (string-contains text "kind: \"BpfApplication\"")
           (string-contains text "namespace: \"team-a\"")
           (string-contains text "kubernetes.io/os: \"linux\"")
           (string-contains text "primaryNodeInterface: true")))))

;;; ------------------------------------------------------------------
;;; The image.

(define oci-ref (string-append "oci:" dir "/oci:v1"))
(test-equal "the image is built into DIR/oci, tagged as the image reference"
  oci-ref (assq-ref result 'oci))

(define (inspect . extra)
  (apply output "skopeo" (append extra (list "inspect" "--format"
                                              "{{index .Labels \"io.ebpf.programs\"}}\n{{index .Labels \"io.ebpf.maps\"}}\n{{.Architecture}}"
                                              oci-ref))))
(define labels (string-split (string-trim-right (inspect)) #\newline))
(test-equal "io.ebpf.programs is JSON naming exactly the object's functions"
  (sort (filter-map (lambda (s) (and (equal? (cadr s) "FUNC")
                                     (cons (car s) (if (string-suffix? "xdp" (car s))
                                                       "xdp" "tracepoint"))))
                    x86-symbols)
        (lambda (a b) (string<? (car a) (car b))))
  (json-alist (car labels)))
(test-equal "io.ebpf.maps is JSON naming exactly the object's maps"
  (map (lambda (s) (cons (car s) "array"))
       (filter (lambda (s) (equal? (caddr s) ".maps")) x86-symbols))
  (json-alist (cadr labels)))
(test-equal "the host's manifest is amd64" "amd64" (caddr labels))
(test-equal "the index holds one manifest per architecture"
  "arm64"
  (caddr (string-split (string-trim-right (inspect "--override-arch" "arm64")) #\newline)))

;; Layers of the image for ARCH, from the OCI layout by hand.
(define (layer-of arch)
  (string-trim-right
   (output "python3" "-c" "import json,sys
d=sys.argv[1]; arch=sys.argv[2]
blob=lambda h: json.load(open(d+'/blobs/sha256/'+h.split(':')[1]))
top=json.load(open(d+'/index.json'))['manifests'][0]
idx=blob(top['digest'])
for m in idx['manifests']:
    if m['platform']['architecture']==arch:
        man=blob(m['digest'])
        assert len(man['layers'])==1
        print(d+'/blobs/sha256/'+man['layers'][0]['digest'].split(':')[1])"
           (string-append dir "/oci") arch)))

(test-equal "the layer's first tar entry is the object (amd64)"
  "bpf_x86_bpfel.o"
  (car (string-split (output "tar" "-tzf" (layer-of "amd64")) #\newline)))
(test-equal "the layer's only entry is the object (arm64)"
  '("bpf_arm64_bpfel.o")
  (remove string-null? (string-split (output "tar" "-tzf" (layer-of "arm64")) #\newline)))
(test-ebpf-error "the export's layer check refuses a layer that starts with ./"
  'ebpf-error ("./" "first entry")
  (let ((fake (string-append tmp "/fake")))
    (mkdir fake)
    (system* "mkdir" "-p" (string-append fake "/oci/blobs/sha256") (string-append fake "/ctx"))
    (system* "cp" x86 (string-append fake "/ctx/"))
    ;; What umoci repack does: the directory entry first.
    (system* "tar" "-czf" (string-append fake "/oci/blobs/sha256/layer")
             "-C" (string-append fake "/ctx") ".")
    ((@@ (ebpf bpfman) check-layers) (string-append fake "/oci") '(amd64))))

(test-assert "no buildah storage is left behind"
  (not (any (lambda (f) (string-prefix? "guile-ebpf-buildah-" f))
            (or (scandir "/tmp") '()))))

;;; ------------------------------------------------------------------
;;; Round trip under the kernel.

(define extracted (string-append tmp "/layer"))
(mkdir extracted)
(ok? "tar" "-xzf" (layer-of "amd64") "-C" extracted)
(define from-image (string-append extracted "/bpf_x86_bpfel.o"))
(test-assert "the object out of the layer is the exported one"
  (equal? (read-file from-image) (read-file x86)))

(define (constants-from-global-data)
  (map (lambda (kv)
         (cons (string->symbol (car kv))
               (bytevector-u64-ref (cdr kv) 0 (endianness little))))
       global-data))

(define short (make-udp-packet #:payload (make-bytevector 8 0)))
(define long (make-udp-packet #:payload (make-bytevector 200 0)))

(define (verdicts runner)
  (map (lambda (pkt) (bpf-run-result-verdict (runner pkt))) (list short long)))

(define direct
  (begin (bpf-load! 'bpfman-t-xdp)
         (verdicts (lambda (pkt) (bpf-test-run 'bpfman-t-xdp pkt)))))
(define exported-xdp
  (bpf-object-load from-image #:kind 'xdp #:name "bpfman_t_xdp"
                   #:constants (filter (lambda (c) (eq? (car c) 'min_len))
                                       (constants-from-global-data))))
(define exported (verdicts (lambda (pkt) (bpf-test-run exported-xdp pkt))))

(test-equal "XDP verdicts of the policy applied directly" '(xdp-pass xdp-drop) direct)
(test-equal "the same verdicts from the object out of the image" direct exported)

(define (count-getpids attach! detach!)
  (bpf-map-set! bpfman-t-hits 1 0)
  (attach!)
  (do ((i 0 (+ i 1))) ((= i 50)) (getpid))
  (detach!)
  (bpf-map-ref bpfman-t-hits 1))

(defbpf-policy bpfman-t-tp-only #:programs '("bpfman-t-tp"))
(define direct-count
  (count-getpids (lambda () (bpf-policy-apply! 'bpfman-t-tp-only))
                 (lambda () (bpf-policy-remove! 'bpfman-t-tp-only))))
(define exported-tp
  (bpf-object-load from-image #:kind 'tracepoint #:name "bpfman_t_tp"
                   #:constants (filter (lambda (c) (eq? (car c) 'tgid))
                                       (constants-from-global-data))))
(define exported-count
  (let ((link #f))
    (count-getpids (lambda ()
                     (set! link (bpf-object-attach exported-tp #:kind 'tracepoint
                                                   #:target "syscalls/sys_enter_getpid")))
                   (lambda () (bpf-link-destroy! link)))))

(test-assert "the tracepoint counts this process's getpid calls" (>= direct-count 50))
(test-equal "the same count from the object out of the image" direct-count exported-count)

(bpf-object-close! exported-xdp)
(bpf-object-close! exported-tp)
(bpf-unload! 'bpfman-t-xdp)

(defbpf-program bpfman-t-kp #:kind 'kprobe #:attach "do_unlinkat"
  #:source (bpf-fn bpfman_t_kp (ctx) 0))
(defbpf-program bpfman-t-krp #:kind 'kretprobe #:attach "do_unlinkat"
  #:source (bpf-fn bpfman_t_krp (ctx) 0))
(defbpf-program bpfman-t-fe #:kind '(fentry kprobe) #:attach "do_unlinkat"
  #:source (bpf-fn bpfman_t_fe (ctx) 0))
(defbpf-program bpfman-t-up #:kind 'uprobe
  #:attach '(#:target "libc:malloc" #:pid 1)
  #:source (bpf-fn bpfman_t_up (ctx) 0))
(defbpf-program bpfman-t-urp #:kind 'uretprobe #:attach "/usr/bin/true:0x1000"
  #:source (bpf-fn bpfman_t_urp (ctx) 0))
(defbpf-program bpfman-t-tc #:kind 'tc
  #:attach '(#:target "eth0" #:direction egress)
  #:source (bpf-fn bpfman_t_tc (ctx) 0))
(defbpf-policy bpfman-t-kinds
  #:programs '("bpfman-t-kp" "bpfman-t-krp" "bpfman-t-fe" "bpfman-t-up"
               "bpfman-t-urp" "bpfman-t-tc"))
(test-assert "kprobe, kretprobe, fentry, uprobe, uretprobe and tc links validate"
  (let* ((r (bpf-policy-export 'bpfman-t-kinds #:dir (string-append tmp "/kinds")))
         (y (string-append tmp "/kinds/bpfman-t-kinds.yaml"))
         (text (read-file y)))
    (and (validate y)
         (equal? (json-alist (assq-ref r 'programs))
                 '(("bpfman_t_fe" . "fentry") ("bpfman_t_kp" . "kprobe")
                   ("bpfman_t_krp" . "kretprobe") ("bpfman_t_tc" . "tc")
                   ("bpfman_t_up" . "uprobe") ("bpfman_t_urp" . "uretprobe")))
         (string-contains text "fentry:\n        function: \"do_unlinkat\"")
         (string-contains text "- function: \"malloc\"\n            target: \"libc\"\n            pid: 1")
         (string-contains text "- offset: 4096\n            target: \"/usr/bin/true\"")
         (string-contains text "direction: \"Egress\""))))

;;; ------------------------------------------------------------------
;;; One translation unit from programs lowered apart.

(define-bpf-inline (bpfman-t-twice x) (* 2 x))
(defbpf-program bpfman-t-in1 #:kind 'xdp #:attach "lo"
  #:source (bpf-fn bpfman_t_in1 (ctx)
             (map-increment! bpfman-t-hits (bpfman-t-twice 1))
             (return :xdp-pass)))
(defbpf-program bpfman-t-in2 #:kind 'xdp #:attach "lo"
  #:source (bpf-fn bpfman_t_in2 (ctx)
             (let* ((n (packet-length ctx)) (m (+ n 1)))
               (map-increment! bpfman-t-hits (bpfman-t-twice m)))
             (return :xdp-pass)))
(defbpf-policy bpfman-t-in #:programs '("bpfman-t-in1" "bpfman-t-in2"))
(test-assert "two instances of one inline under one name are told apart"
  (let* ((r (bpf-policy-export 'bpfman-t-in #:dir (string-append tmp "/in")))
         (c (read-file (string-append tmp "/in/bpfman-t-in.bpf.c"))))
    (and (string-contains c "bpfman_t_twice__0 (")
         (string-contains c "bpfman_t_twice__0_p1 (")
         (equal? '("bpfman_t_in1" "bpfman_t_in2")
                 (sort (filter-map (lambda (s) (and (equal? (cadr s) "FUNC") (car s)))
                                   (object-symbols (car (assq-ref r 'objects))))
                       string<?)))))
(test-equal "a map two programs use is declared once"
  1
  (length (list-matches "} u_bpfman_t_hits __asm__ [(]\"bpfman_t_hits\"[)] SEC"
                        (read-file (string-append tmp "/in/bpfman-t-in.bpf.c")))))

;;; ------------------------------------------------------------------
;;; What bpfman cannot run, refused naming the program.

(define (export-of name) (bpf-policy-export name #:dir (string-append tmp "/err")))

(defbpf-program bpfman-t-sock #:kind 'socket-filter
  #:source (bpf-fn bpfman_t_sock (ctx) 0))
(defbpf-policy bpfman-t-sock #:programs '("bpfman-t-sock"))
(test-ebpf-error "a socket filter is refused, naming the program and an alternative"
  'ebpf-validation-error ("bpfman-t-sock" "socket-filter" "tc")
  (export-of 'bpfman-t-sock))

(defbpf-program bpfman-t-raw #:kind 'raw-tracepoint #:attach "sched_switch"
  #:source (bpf-fn bpfman_t_raw (ctx) 0))
(defbpf-policy bpfman-t-raw #:programs '("bpfman-t-raw"))
(test-ebpf-error "a raw tracepoint is refused for a tracepoint"
  'ebpf-validation-error ("bpfman-t-raw" "raw-tracepoint" "tracepoint")
  (export-of 'bpfman-t-raw))

(defbpf-program bpfman-t-fb #:kind '(tp-btf tracepoint)
  #:attach "sched:sched_switch" #:source (bpf-fn bpfman_t_fb (ctx) 0))
(defbpf-policy bpfman-t-fb #:programs '("bpfman-t-fb"))
(test-assert "a fallback list exports the first kind bpfman runs"
  (string-contains (assq-ref (export-of 'bpfman-t-fb) 'programs)
                   "\"bpfman_t_fb\":\"tracepoint\""))

(defbpf-program bpfman-t-under #:kind 'xdp #:attach "lo"
  #:source (bpf-fn _bpfman_t_under (ctx) (return :xdp-pass)))
(defbpf-policy bpfman-t-under #:programs '("bpfman-t-under"))
(test-ebpf-error "a function name bpfman refuses"
  'ebpf-validation-error ("bpfman-t-under" "_bpfman_t_under")
  (export-of 'bpfman-t-under))

(defbpf-program bpfman-t-obj #:kind 'xdp #:attach "lo" #:source "prebuilt.bpf.o")
(defbpf-policy bpfman-t-obj #:programs '("bpfman-t-obj"))
(test-ebpf-error "a source that is not a bpf-fn"
  'ebpf-validation-error ("bpfman-t-obj" "not a bpf-fn")
  (export-of 'bpfman-t-obj))

(defbpf-program bpfman-t-glob #:kind 'tracepoint #:attach "sched:sched_*"
  #:source (bpf-fn bpfman_t_glob (ctx) 0))
(defbpf-policy bpfman-t-glob #:programs '("bpfman-t-glob"))
(test-ebpf-error "a glob target"
  'ebpf-validation-error ("bpfman-t-glob" "glob")
  (export-of 'bpfman-t-glob))

(test-ebpf-error "a namespaced application holds no tracepoint"
  'ebpf-validation-error ("bpfman-t-tp" "BpfApplication")
  (bpf-policy-export 'bpfman-t #:dir (string-append tmp "/err") #:namespace "team-a"))

(defbpf-program bpfman-t-c2 #:kind 'xdp #:attach "lo"
  #:source (bpf-fn bpfman_t_c2 (ctx)
             (if (> (packet-length ctx) (const min-len)) (return :xdp-drop) (return :xdp-pass)))
  #:constants '((min-len . 60)))
(defbpf-policy bpfman-t-c #:programs '("bpfman-t-xdp" "bpfman-t-c2"))
(test-ebpf-error "one constant with two values"
  'ebpf-validation-error ("bpfman-t-c2" "min_len")
  (export-of 'bpfman-t-c))

(test-ebpf-error "an unknown architecture"
  'ebpf-validation-error ("sparc")
  (bpf-policy-export 'bpfman-t #:dir (string-append tmp "/err") #:arches '(sparc)))
(test-ebpf-error "an unknown format"
  'ebpf-validation-error ("tarball")
  (bpf-policy-export 'bpfman-t #:format 'tarball #:dir (string-append tmp "/err")))

;;; ------------------------------------------------------------------
;;; The command line.

(test-assert "guile-ebpf export writes the same application"
  (let ((file (string-append tmp "/cli.scm"))
        (d (string-append tmp "/cli")))
    (call-with-output-file file
      (lambda (p)
        (write '(defbpf-program bpfman-t-cli #:kind 'tc
                  #:attach (#:target "eth0" #:direction egress)
                  #:source (bpf-fn bpfman_t_cli (ctx) 0))
               p)
        (write '(defbpf-policy bpfman-t-cli #:programs ("bpfman-t-cli")) p)))
    (define-values (rc out)
      (sh-out pre-inst-env (string-append builddir "/scripts/guile-ebpf") "export" file "--bpfman" d
              "--node-selector" "role=edge" "--arch" "amd64,arm64"))
    (unless (zero? rc) (format #t "# ~a~%" out))
    (and (zero? rc)
         (file-exists? (string-append d "/bytecode/bpf_arm64_bpfel.o"))
         (file-exists? (string-append d "/Containerfile.bytecode"))
         (validate (string-append d "/bpfman-t-cli.yaml"))
         (string-contains (read-file (string-append d "/bpfman-t-cli.yaml"))
                          "direction: \"Egress\""))))

(test-assert "the Containerfile is bpfman's shape"
  (let ((text (read-file (string-append dir "/Containerfile.bytecode"))))
    (and (string-contains text "FROM scratch")
         (string-contains text "LABEL \"io.ebpf.programs\"=$PROGRAMS")
         (string-contains text "LABEL \"io.ebpf.maps\"=$MAPS")
         (string-contains text "COPY $BYTECODE_FILE /"))))

(system* "rm" "-rf" tmp)
(harness-end)
