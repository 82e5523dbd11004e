// CloudFront Function (cloudfront-js-2.0) on viewer request, inlined into the stack as is.
// S3 reads a literal "+" in a path as a space, GCS reads it as "+". Spelling every "+" as
// "%2B" before the cache lookup gives the cache key, S3 and GCS one key; nothing else
// changes. A plain script within the runtime's JavaScript subset (no modules).
function handler(event) {
  var request = event.request;
  if (request.uri.indexOf("+") !== -1) {
    request.uri = request.uri.split("+").join("%2B");
  }
  return request;
}
