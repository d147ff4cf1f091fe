// GraphQL documents shared by the tests, the demo and the bench.
export const IVY = /* GraphQL */ `
  subscription Ivy($input: IvyCompletionInput!) {
    ivyCompletion(input: $input) {
      __typename
      ... on IvyCompletionStarted {
        requestId
        provider
        model
        billing
      }
      ... on IvyTextDelta {
        text
      }
      ... on IvyCompletionFinished {
        inputTokens
        outputTokens
        creditsCharged
        creditBalance
      }
      ... on IvyCompletionFailed {
        code
        message
        creditsCharged
        creditBalance
      }
    }
  }
`;
