;;; (ebpf error) --- the ebpf-error family of exceptions.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Every error guile-ebpf raises is thrown with one of these keys and
;;; arguments shaped like scm-error's: (SUBR MESSAGE ARGS DETAILS), where
;;; MESSAGE is complete text ending in a "Fix: ..." hint and DETAILS an
;;; alist (errno, errno-name, log ...).

(define-module (ebpf error)
  #:use-module (ice-9 match)
  #:export (call-with-public-who       ;for the other modules, not (ebpf)
            ebpf-error-keys
            ebpf-error?
            ebpf-error-message
            ebpf-error-details
            ebpf-error-subr
            raise-ebpf-error
            call-with-ebpf-errors))

(define ebpf-error-keys
  '(ebpf-error ebpf-validation-error ebpf-map-error ebpf-permission-error
    ebpf-lower-error ebpf-compile-error ebpf-verifier-error
    ebpf-attach-error))

(define (ebpf-error? obj)
  "Return true if @var{obj} (a throw key, or an exception object caught by
@code{guard} or @code{with-exception-handler}) belongs to the
@code{ebpf-error} family."
  (let ((key (cond ((symbol? obj) obj)
                   ((exception? obj) (exception-kind obj))
                   (else #f))))
    (and key (memq key ebpf-error-keys) #t)))

(define (args-of obj)
  (if (exception? obj) (exception-args obj) obj))

(define (ebpf-error-subr obj)
  "Return the name of the procedure that raised the ebpf error whose throw
arguments (or exception object) is @var{obj}."
  (match (args-of obj) ((subr . _) subr) (_ #f)))

(define (ebpf-error-message obj)
  "Return the message (with its \"Fix:\" hint) of the ebpf error whose throw
arguments (or exception object) is @var{obj}."
  (match (args-of obj)
    ((_ (? string? msg) . _)
     ;; Messages are stored with ~ doubled for Guile's error printer.
     (if (string-contains msg "~~")
         (string-join (split-tildes msg) "~")
         msg))
    (_ #f)))

(define (split-tildes s)
  (let loop ((start 0) (acc '()))
    (let ((i (string-contains s "~~" start)))
      (if i
          (loop (+ i 2) (cons (substring s start i) acc))
          (reverse (cons (substring s start) acc))))))

(define (ebpf-error-details obj)
  "Return the details alist (@code{errno}, @code{errno-name}, @code{log} ...)
of the ebpf error whose throw arguments (or exception object) is @var{obj}."
  (match (args-of obj)
    ((_ _ _ (? list? details)) details)
    (_ '())))

(define* (raise-ebpf-error key subr message #:key fix (details '()))
  "Throw @var{key} (one of @code{ebpf-error-keys}) from @var{subr} with
@var{message} and the hint @var{fix}, as the C core does."
  (unless (memq key ebpf-error-keys)
    (raise-ebpf-error 'ebpf-validation-error 'raise-ebpf-error
                      (format #f "~s is not a key of the ebpf-error family" key)
                      #:fix (format #f "use one of ~a" ebpf-error-keys)))
  (let ((text (if fix (string-append message ". Fix: " fix) message)))
    (throw key (public-subr subr)
           (escape-tildes text) '() details)))

(define (public-subr subr)
  ;; As the C raiser: a raw %-primitive is never the name shown.
  (let ((s (and subr (if (symbol? subr) (symbol->string subr) subr))))
    (if (and s (string-prefix? "%" s))
        (let ((who (fluid-ref %public-who)))
          (if who (format #f "~a" who) (substring s 1)))
        s)))

(define (escape-tildes s)
  (if (string-index s #\~)
      (string-join (string-split s #\~) "~~")
      s))

;; The public procedure the user called, while it runs (outermost wins):
;; an error raised by a raw %-primitive underneath names it (the C
;; raiser reads this fluid).  Private: modules reach it with @@.
(define %public-who (make-fluid #f))

(define (call-with-public-who who thunk)
  (if (fluid-ref %public-who)
      (thunk)
      (with-fluid* %public-who who thunk)))

(define (call-with-ebpf-errors thunk handler)
  "Call @var{thunk}; if it raises an error of the ebpf family, return
@code{(@var{handler} key message details)} instead."
  (catch #t thunk
    (lambda (key . args)
      (if (ebpf-error? key)
          (handler key (ebpf-error-message args) (ebpf-error-details args))
          (apply throw key args)))))

(define (print-ebpf-error port key args default-printer)
  (match args
    ((subr (? string? msg) _ _)
     (format port "~a~a: ~a" (if subr (string-append subr ": ") "") key
             (simple-format #f msg)))
    (_ (default-printer))))

(for-each (lambda (k) (set-exception-printer! k print-ebpf-error))
          ebpf-error-keys)
