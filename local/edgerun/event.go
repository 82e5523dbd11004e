package edgerun

// The Lambda@Edge origin-request and origin-response events, as documented in the CloudFront
// developer guide ("Lambda@Edge event structure"). Only the fields CloudFront
// sends to an origin-facing trigger are modelled.

// Header is one CloudFront header entry: Key keeps the original case,
// the map key of Headers is the lowercase name.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Headers maps a lowercase header name to its values.
type Headers map[string][]Header

// Add appends a value under the lowercase name, keeping name as the key.
func (h Headers) Add(lowerName, name, value string) {
	h[lowerName] = append(h[lowerName], Header{Key: name, Value: value})
}

// Event is the whole event passed to the handler.
type Event struct {
	Records []Record `json:"Records"`
}

// Record holds one CloudFront event.
type Record struct {
	CF CF `json:"cf"`
}

// CF is the body of a record.
type CF struct {
	Config   Config   `json:"config"`
	Request  Request  `json:"request"`
	Response Response `json:"response"`
}

// RequestEvent is the whole event passed to an origin-request function:
// the request CloudFront is about to send to the origin, and no response.
type RequestEvent struct {
	Records []RequestRecord `json:"Records"`
}

// RequestRecord holds one origin-request event.
type RequestRecord struct {
	CF RequestCF `json:"cf"`
}

// RequestCF is the body of an origin-request record.
type RequestCF struct {
	Config  Config  `json:"config"`
	Request Request `json:"request"`
}

// Config describes the distribution and the trigger.
type Config struct {
	DistributionDomainName string `json:"distributionDomainName"`
	DistributionID         string `json:"distributionId"`
	EventType              string `json:"eventType"`
	RequestID              string `json:"requestId"`
}

// Request is the request CloudFront sends to the origin (as an
// origin-request function gets it and returns it, or as an origin-response
// function sees it).
type Request struct {
	ClientIP    string  `json:"clientIp"`
	Headers     Headers `json:"headers"`
	Method      string  `json:"method"`
	Origin      Origin  `json:"origin"`
	QueryString string  `json:"querystring"`
	URI         string  `json:"uri"`
}

// Origin names the origin that answered: exactly one of S3 or Custom is set.
type Origin struct {
	S3     *S3Origin     `json:"s3,omitempty"`
	Custom *CustomOrigin `json:"custom,omitempty"`
}

// S3Origin is an S3 REST origin.
type S3Origin struct {
	AuthMethod    string  `json:"authMethod"`
	CustomHeaders Headers `json:"customHeaders"`
	DomainName    string  `json:"domainName"`
	Path          string  `json:"path"`
	Region        string  `json:"region"`
}

// CustomOrigin is any other HTTP origin (GCS here).
type CustomOrigin struct {
	CustomHeaders    Headers  `json:"customHeaders"`
	DomainName       string   `json:"domainName"`
	KeepaliveTimeout int      `json:"keepaliveTimeout"`
	Path             string   `json:"path"`
	Port             int      `json:"port"`
	Protocol         string   `json:"protocol"`
	ReadTimeout      int      `json:"readTimeout"`
	SSLProtocols     []string `json:"sslProtocols"`
}

// Response is the origin's response, and also what the handler returns.
// Body and BodyEncoding are set only by a handler that generates a body.
type Response struct {
	Headers           Headers `json:"headers"`
	Status            string  `json:"status"`
	StatusDescription string  `json:"statusDescription,omitempty"`
	Body              *string `json:"body,omitempty"`
	BodyEncoding      string  `json:"bodyEncoding,omitempty"`
}

// Context is what the runner turns into the Lambda context object.
type Context struct {
	FunctionName       string `json:"functionName"`
	FunctionVersion    string `json:"functionVersion"`
	InvokedFunctionARN string `json:"invokedFunctionArn"`
	AWSRequestID       string `json:"awsRequestId"`
	MemoryLimitInMB    int    `json:"memoryLimitInMB"`
	TimeoutMs          int    `json:"timeoutMs"`
}
