// Local defaults. The CDK stack writes its own copy of this file into the deployed
// bundle at synth, because Lambda@Edge functions cannot have environment variables.
export default {
  queueName: "transfer.fifo",
  queueRegion: "us-east-1",
  sourceDomainName: "storage.googleapis.com",
  includePrefixes: [],
  excludeSuffixes: [],
};
