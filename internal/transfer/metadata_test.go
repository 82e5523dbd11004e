package transfer

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestHeadersForDropsTheUploadFramingFromContentEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"aws-chunked":       "",
		"aws-chunked,gzip":  "gzip",
		"gzip, AWS-Chunked": "gzip",
		"gzip":              "gzip",
		"br,gzip":           "br,gzip",
	} {
		h := headersFor(SourceObject{Header: http.Header{"Content-Encoding": {in}}})
		got := ""
		if h.ContentEncoding != nil {
			got = *h.ContentEncoding
		}
		if got != want {
			t.Errorf("Content-Encoding %q copied as %q, want %q", in, got, want)
		}
	}
}

// A small object (PutObject) and a large one (CreateMultipartUpload) carry
// the same headers: every field of objectHeaders lands in the field of the
// same name of both inputs, and nothing else is set. A header added to the
// type and applied to one input only, or applied under another name, fails.
func TestObjectHeadersFillBothInputsAlike(t *testing.T) {
	var h objectHeaders
	hv := reflect.ValueOf(&h).Elem()
	for i := range hv.NumField() {
		name, f := hv.Type().Field(i).Name, hv.Field(i)
		switch f.Kind() {
		case reflect.Pointer:
			v := "value of " + name
			f.Set(reflect.ValueOf(&v))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"from": name}))
		default:
			t.Fatalf("objectHeaders.%s is a %s: extend this test to fill it", name, f.Kind())
		}
	}
	var put s3.PutObjectInput
	var create s3.CreateMultipartUploadInput
	h.applyPut(&put)
	h.applyCreate(&create)
	for _, in := range []any{&put, &create} {
		iv := reflect.ValueOf(in).Elem()
		for i := range iv.NumField() {
			name := iv.Type().Field(i).Name
			want, isHeader := hv.Type().FieldByName(name)
			switch got := iv.Field(i); {
			case isHeader && !reflect.DeepEqual(got.Interface(), hv.FieldByIndex(want.Index).Interface()):
				t.Errorf("%T.%s = %v, want objectHeaders.%s", in, name, shown(got), name)
			case !isHeader && !got.IsZero():
				t.Errorf("%T.%s set to %v: not a field of objectHeaders", in, name, shown(got))
			}
		}
		for i := range hv.NumField() {
			if name := hv.Type().Field(i).Name; !iv.FieldByName(name).IsValid() {
				t.Errorf("%T has no field %s", in, name)
			}
		}
	}

	// And for a real source object's headers: the same values on both.
	obj := SourceObject{Generation: "1700000000123456", Header: http.Header{
		"Content-Type": {"image/png"}, "Cache-Control": {"public, max-age=60"}, "Content-Encoding": {"gzip"},
		"Content-Disposition": {`attachment; filename="a b.png"`}, "Content-Language": {"de"}, "X-Goog-Meta-Owner": {"ops"},
	}}
	put, create = s3.PutObjectInput{}, s3.CreateMultipartUploadInput{}
	headersFor(obj).applyPut(&put)
	headersFor(obj).applyCreate(&create)
	pv, cv := reflect.ValueOf(put), reflect.ValueOf(create)
	for i := range hv.NumField() {
		name := hv.Type().Field(i).Name
		p, c := pv.FieldByName(name), cv.FieldByName(name)
		if !reflect.DeepEqual(p.Interface(), c.Interface()) || p.IsZero() {
			t.Errorf("%s: PutObject %v, CreateMultipartUpload %v: want the same, set", name, shown(p), shown(c))
		}
	}
}

// shown is a field's value for a test message: what a pointer points to.
func shown(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "unset"
		}
		return v.Elem().Interface()
	}
	return v.Interface()
}
