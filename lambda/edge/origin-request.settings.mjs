// Local defaults. The CDK stack writes its own copy of this file into the deployed
// origin-request bundle at synth, because Lambda@Edge functions cannot have environment
// variables.
export default {
  sourceDomainName: "storage.googleapis.com",
  sourceRegion: "auto",
  secretId: "backtoorigin/source-hmac",
  secretRegion: "us-east-1",
};
